# Sourced by ./dev. Puts Node >= 22 and pnpm 10 on PATH (from .tools/ when the machine's are older),
# installs the workspace, and installs the Debian packages the test backends need.
FERRY_ROOT=$(pwd)
FERRY_TOOLS="$FERRY_ROOT/.tools"
FERRY_NODE_MAJOR=24
FERRY_PNPM_VERSION=10.34.9

ferry_log() { printf '[ferry] %s\n' "$*" >&2; }

ferry_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [ "$major" -ge 22 ]
}

ferry_node_package() {
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) return 1 ;; esac
  case "$(uname -m)" in x86_64 | amd64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) return 1 ;; esac
  printf 'node-%s-%s' "$os" "$arch"
}

ferry_ensure_node() {
  local package bin
  package=$(ferry_node_package) || true
  bin="$FERRY_TOOLS/node_modules/$package/bin"
  if [ -n "$package" ] && [ -x "$bin/node" ]; then
    export PATH="$bin:$PATH"
  fi
  if ferry_node_ok; then return 0; fi
  if [ -z "$package" ]; then
    ferry_log "Node >= 22 is required and no prebuilt package is known for $(uname -sm); install Node 24 and retry."
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    ferry_log "Node >= 22 is required. Install Node 24 (or any Node with npm, and ./dev fetches Node 24 itself)."
    exit 1
  fi
  ferry_log "node $(node --version 2>/dev/null || echo missing) is older than 22: installing Node $FERRY_NODE_MAJOR into .tools/"
  mkdir -p "$FERRY_TOOLS"
  npm install --prefix "$FERRY_TOOLS" --no-save --no-audit --no-fund --loglevel=error "$package@$FERRY_NODE_MAJOR" >&2
  export PATH="$bin:$PATH"
  ferry_node_ok || { ferry_log "Node $FERRY_NODE_MAJOR did not install"; exit 1; }
}

ferry_ensure_pnpm() {
  if [ -x "$FERRY_TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
    export PATH="$FERRY_TOOLS/pnpm/node_modules/.bin:$PATH"
  fi
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" = 10 ]; then return 0; fi
  ferry_log "installing pnpm $FERRY_PNPM_VERSION into .tools/"
  mkdir -p "$FERRY_TOOLS/pnpm"
  npm install --prefix "$FERRY_TOOLS/pnpm" --no-save --no-audit --no-fund --loglevel=error "pnpm@$FERRY_PNPM_VERSION" >&2
  export PATH="$FERRY_TOOLS/pnpm/node_modules/.bin:$PATH"
}

ferry_install_workspace() {
  ferry_ensure_node
  ferry_ensure_pnpm
  # Skip the install when node_modules is newer than the lockfile (a second ./dev run starts at once).
  if [ -f node_modules/.modules.yaml ] && [ node_modules/.modules.yaml -nt pnpm-lock.yaml ]; then return 0; fi
  # Native addons (ssh2's optional crypto binding) must build against the headers of the Node that
  # will load them, not whatever nodedir the machine's npm config names.
  local node_dir
  node_dir=$(dirname "$(dirname "$(command -v node)")")
  if [ -f "$node_dir/include/node/node.h" ]; then export npm_config_nodedir="$node_dir"; fi
  ferry_log "installing the workspace (pnpm install --frozen-lockfile)"
  pnpm install --frozen-lockfile --reporter=append-only >&2 || { ferry_log "pnpm install failed"; exit 1; }
  touch node_modules/.modules.yaml
}

# Debian packages the real test backends and interop checks use.
FERRY_DEBIAN_PACKAGES="openssh-server openssh-client rclone awscli git tmux"

ferry_missing_test_packages() {
  local missing=""
  command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing="$missing openssh-server"
  command -v ssh-keygen >/dev/null 2>&1 || missing="$missing openssh-client"
  command -v rclone >/dev/null 2>&1 || missing="$missing rclone"
  command -v aws >/dev/null 2>&1 || missing="$missing awscli"
  command -v git >/dev/null 2>&1 || missing="$missing git"
  command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
  printf '%s' "$missing"
}

ferry_install_test_packages() {
  local missing sudo=""
  missing=$(ferry_missing_test_packages)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      ferry_log "missing:$missing — install them (apt-get install$missing); tests that need them are skipped"
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    ferry_log "missing:$missing — no apt-get here; install them with your package manager; tests that need them are skipped"
    return 0
  fi
  ferry_log "installing Debian packages:$missing"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}
