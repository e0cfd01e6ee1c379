#!/usr/bin/env bash
# Validates the Kubernetes manifests offline: renders the base and every overlay with
# `kubectl kustomize` (kustomize is built into kubectl, which this machine's image carries) and
# checks every rendered object, and the Secret template, against the Kubernetes 1.37 schemas with
# kubernetes-validate (PyPI; it ships the schemas, no network). The ServiceMonitor is a
# Prometheus Operator resource that it has no schema for; tests/ops/k8s.rs checks it against
# the Service and the metrics route instead.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.37.0
VENV="$HOME/.cache/ticketing/k8s-validate-$VERSION"
log() { printf '[k8s-validate] %s\n' "$*" >&2; }

if ! command -v kubectl >/dev/null 2>&1; then
  log "kubectl is missing: it renders the kustomizations (kubectl kustomize)"
  exit 1
fi
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  log "installing kubernetes-validate $VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir=${dir%/}
  name=$(echo "$dir" | tr / _)
  kubectl kustomize "$dir" > "$out/$name.yaml"
  count=$(grep -c '^kind:' "$out/$name.yaml")
  log "$dir: $count objects"
done
# --strict refuses unknown fields. A resource without a schema (the ServiceMonitor) is a warning;
# anything else that does not validate is an error and fails the command.
"$VENV/bin/kubernetes-validate" --strict --quiet -k "$VERSION" "$out"/*.yaml deploy/k8s/base/secret.template.yaml
log "every manifest is valid for Kubernetes $VERSION"
