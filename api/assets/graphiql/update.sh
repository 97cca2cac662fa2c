#!/usr/bin/env bash
# Refreshes the vendored GraphiQL assets from the npm registry. The API serves these
# files itself (GET /graphiql/...), so the IDE works on machines without internet.
# Usage: bash api/assets/graphiql/update.sh [graphiql-version] [react-version]
set -euo pipefail
graphiql=${1:-3.9.0}
react=${2:-18.3.1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$graphiql" "react@$react" "react-dom@$react" >/dev/null
for pkg in "graphiql-$graphiql" "react-$react" "react-dom-$react"; do
  mkdir "$pkg" && tar xzf "$pkg.tgz" -C "$pkg"
done
cp "graphiql-$graphiql/package/graphiql.min.js" "graphiql-$graphiql/package/graphiql.min.css" "$here/"
cp "react-$react/package/umd/react.production.min.js" "$here/"
cp "react-dom-$react/package/umd/react-dom.production.min.js" "$here/"
{
  echo "GraphiQL $graphiql (MIT):"; cat "graphiql-$graphiql/package/LICENSE"; echo
  echo "React $react and ReactDOM $react (MIT):"; cat "react-$react/package/LICENSE"
} > "$here/LICENSES.txt"
echo "GraphiQL $graphiql and React $react vendored into $here"
