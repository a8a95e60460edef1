# Sourced by .ci/run and by developers: puts Node.js 24 first on PATH, then the project's tools.
# The CI image ships Node 20; Node 24 comes from the npm registry's `node` package (a registry
# binary, no outside download), cached in .cache/node24. Keep the major in step with package.json's
# `engines` and scripts/require-node.cjs.
_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_node_major)" -lt 24 ]; then
  _n24="$_repo_root/.cache/node24"
  if [ ! -x "$_n24/node_modules/node/bin/node" ]; then
    mkdir -p "$_n24"
    # A package.json of its own, or npm would walk up and install into the project's node_modules.
    echo '{"private":true}' > "$_n24/package.json"
    (cd "$_n24" && npm install --no-save --no-audit --no-fund --loglevel=error node@24 >/dev/null)
  fi
  export PATH="$_n24/node_modules/node/bin:$PATH"
fi
unset -f _node_major
# The project's own tools (tsx, cdk, vitest) by name, as the migration guide types them
# (`tsx scripts/check-module-stats.ts`); node_modules/.bin exists once `npm ci` has run.
case ":$PATH:" in
  *":$_repo_root/node_modules/.bin:"*) ;;
  *) export PATH="$_repo_root/node_modules/.bin:$PATH" ;;
esac
