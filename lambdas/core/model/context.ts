/** Values API Gateway accepts in an authorizer context. */
export type ContextValue = string | number | boolean;

/** The context of a decision: what the backend (and the gateway responses) receive. */
export type DecisionContext = Record<string, ContextValue>;
