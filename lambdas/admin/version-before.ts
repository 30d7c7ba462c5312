/**
 * The version a successful write was checked against, carried from the key service to the
 * audit line beside an answer (a symbol: never part of the JSON the caller gets). A write
 * that changed something moved it by one; one that changed nothing left it where it was, so
 * the audit never claims a step another write made.
 */
export const VERSION_BEFORE: unique symbol = Symbol('gatepass.versionBefore');

export interface WithVersionBefore {
  [VERSION_BEFORE]?: number;
}

/** `answer` marked with the version its write was checked against. */
export function withVersionBefore<T extends object>(answer: T, version: number): T & WithVersionBefore {
  return Object.assign(answer, { [VERSION_BEFORE]: version });
}

/** The version `answer` was written from, if it says. */
export function versionBeforeOf(answer: unknown): number | undefined {
  return typeof answer === 'object' && answer !== null ? (answer as WithVersionBefore)[VERSION_BEFORE] : undefined;
}
