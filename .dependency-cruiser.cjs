/**
 * The dependency rules of gatepass, checked by `npm run lint` (dependency-cruiser).
 * docs/ARCHITECTURE.md describes the layout they keep true.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */

/** The code that ships in the package; tests, benchmarks and examples may use dev dependencies. */
const SHIPPED = '^(lambdas|lib|local|bin)/';

/**
 * A package named in one of these is declared. (dependency-cruiser also reads `peerDependenciesMeta`
 * as a dependency list, of an unknown kind: `npm-no-pkg`; the optional peers are in both.)
 */
const DECLARED = ['npm', 'npm-dev', 'npm-peer', 'npm-optional'];

/**
 * The layers of lambdas/core, lowest first: a folder imports only its own layer and those
 * below it. The session service sits above the policies (it applies them) and below the
 * plugins and the request that use it.
 */
const CORE_LAYERS = [
  ['model', 'observability'],
  ['limits'],
  ['store'],
  ['policies', 'jwt', 'usage'],
  ['session'],
  ['plugins'],
  ['request'],
];

const layerRules = CORE_LAYERS.slice(0, -1).map((layer, index) => ({
  name: `core-layer-${layer.join('-')}`,
  comment: `lambdas/core/${layer.join(', ')} import nothing from the layers above them (${CORE_LAYERS.slice(index + 1)
    .flat()
    .join(', ')}): the layers of docs/ARCHITECTURE.md.`,
  severity: 'error',
  from: { path: `^lambdas/core/(${layer.join('|')})/` },
  to: {
    path: `^lambdas/core/(${CORE_LAYERS.slice(index + 1)
      .flat()
      .join('|')})/`,
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'core-is-the-domain',
      comment:
        'lambdas/core is the domain: it imports packages and itself, never the admin API, the authorizer handler, the CDK constructs, the local gateway or the CLI.',
      severity: 'error',
      from: { path: '^lambdas/core/' },
      to: { path: '^(lambdas/(admin|authorizer)|lib|local|bin)/' },
    },
    {
      name: 'authorizer-imports-only-core',
      comment:
        'The authorizer Lambda bundles lambdas/authorizer and lambdas/core only: admin code (key service, Tyk mapping, listings) must not end up in it.',
      severity: 'error',
      from: { path: '^lambdas/authorizer/' },
      to: { dependencyTypes: ['local'], pathNot: '^lambdas/(authorizer|core)/' },
    },
    {
      name: 'lambdas-import-no-tooling',
      comment: 'Lambda code imports no CDK construct, local gateway or CLI code.',
      severity: 'error',
      from: { path: '^lambdas/' },
      to: { path: '^(lib|local|bin)/' },
    },
    {
      name: 'lib-imports-no-local-or-bin',
      comment: 'The CDK constructs (gatepass/cdk) import no local gateway or CLI code.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(local|bin)/' },
    },
    {
      name: 'local-is-for-the-cli',
      comment:
        "The local gateway (local/) runs `gatepass dev`: only the CLI, tests and benchmarks import it (and the build, for the web console's bundle options).",
      severity: 'error',
      from: { pathNot: '^(local|bin|test|bench|scripts)/' },
      to: { path: '^local/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles: a type two modules share lives with the module that owns it.',
      severity: 'error',
      from: { path: SHIPPED },
      to: { circular: true },
    },
    {
      name: 'shipped-code-imports-no-tests',
      comment: 'Tests, benchmarks and examples are not part of the package.',
      severity: 'error',
      from: { path: SHIPPED },
      to: { path: '^(test|bench|examples|scripts)/' },
    },
    {
      name: 'shipped-code-imports-no-dev-dependency',
      comment:
        'The package runs without its devDependencies: shipped code imports dependencies and peerDependencies only (types excepted: they are erased).',
      severity: 'error',
      from: {
        path: SHIPPED,
        pathNot: [
          // The repository's own CDK app: cdk-nag's AwsSolutions checks on every `cdk synth`.
          // Neither is reachable from gatepass/cdk (test/package/ installs the package without cdk-nag).
          '^bin/app\\.ts$',
          '^lib/gatepass-app\\.ts$',
          // The launcher registers tsx only in a checkout, where bin/gatepass.ts exists.
          '^bin/gatepass\\.mjs$',
          // The web console's browser code: bundled with Preact and htm into one script by esbuild
          // (in a checkout when first served, in the package by `npm run build`); the package ships the bundle.
          '^local/console/web/',
        ],
      },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['npm-peer', 'npm-optional', 'type-only'] },
    },
    {
      name: 'no-undeclared-package',
      comment:
        'Every package a module imports is declared in package.json, not just present in node_modules. Tests and benchmarks may name the types of a dependency of the AWS SDK (@smithy/types).',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: DECLARED },
    },
    {
      name: 'no-undeclared-package-at-run-time',
      comment: 'Tests and benchmarks run only with packages declared in package.json.',
      severity: 'error',
      from: { path: '^(test|bench)/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: [...DECLARED, 'type-only'] },
    },
    {
      name: 'no-unresolvable-import',
      comment:
        "Every import resolves to a file or a package. The launcher's import of the compiled CLI (dist/, made by " +
        '`npm run build`) is the one exception: a checkout runs the sources, and dist/ exists only once built.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^\\.\\./dist/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|cdk\\.out|\\.cdk-test-out|coverage)/' },
    // Type-only imports count: a cycle through a type is a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mjs', '.js', '.cjs', '.d.ts', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
