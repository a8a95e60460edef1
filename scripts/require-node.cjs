// Runs first in every entry point (npm scripts, tests, the CDK app) and stops with one line on an
// older Node, before code that needs Node 24 fails with an obscure error (`Map.groupBy is not a
// function`, `Promise.withResolvers is not a function`). ES5 syntax only, so that any Node parses
// it. Keep REQUIRED_MAJOR in step with package.json's `engines` and .ci/node-env.sh.
var REQUIRED_MAJOR = 24;
var found = process.versions.node;
if (Number(found.split('.')[0]) < REQUIRED_MAJOR) {
  process.stderr.write(
    'This project needs Node.js ' +
      REQUIRED_MAJOR +
      ' or newer, but this is Node.js ' +
      found +
      ': run `source .ci/node-env.sh` (it puts Node ' +
      REQUIRED_MAJOR +
      ' first on PATH), then start the command again.\n',
  );
  process.exit(1);
}
module.exports = { REQUIRED_MAJOR: REQUIRED_MAJOR };
