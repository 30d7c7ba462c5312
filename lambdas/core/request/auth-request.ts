import type { RequestTarget } from './access-rights.ts';
import type { Headers } from './credential.ts';

/** A request as the pipeline sees it, whatever event shape it came in. */
export interface AuthRequest extends RequestTarget {
  /** Header names in lower case. */
  readonly headers: Headers;
  readonly query: Readonly<Record<string, string>>;
  readonly sourceIp: string;
}
