/**
 * Loads the RE2 engine before each test file: tests call the session and policy schemas and
 * `checkAccessRights` directly, as only code that first awaits the engine may. The lazy
 * loading itself is tested in test/unit/core/url-pattern-engine.test.ts, on a fresh module.
 */
import { loadUrlPatternEngine } from '../../lambdas/core/model/url-pattern-engine.ts';

await loadUrlPatternEngine();
