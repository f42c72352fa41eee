#!/bin/bash
# Install the Debian packages VirtuOS needs to build and test.
# Idempotent: checks each package with dpkg-query and only touches apt when
# something is missing. Quiet when everything is already installed.
set -euo pipefail

PACKAGES=(
	gcc
	make
	libc6-dev
	libcmocka-dev
	libseccomp-dev
	python3
	python3-pytest
	coreutils
	git # integration tests: a repository on a volume
	sqlite3 # integration tests: record locks (test_locks.py)
	iproute2 # vos run --net private: namespace and veth pair for the network domain
	util-linux # tests: nsenter, setpriv; unshare, losetup (test_paths.py)
	e2fsprogs # disk-image volumes: mkfs.ext4 and debugfs in test_paths.py
	curl # integration tests: a real HTTP client under vos (test_net.py)
	findutils # test_programs.py: find on a volume
	tar # test_programs.py: archive round trip on a volume
	fio # test_programs.py: psync, libaio and io_uring engines on a volume file
	nginx-light # test_programs.py: nginx serving a volume (own config and port)
	redis-server # test_programs.py: redis with its data dir on a volume
	redis-tools # test_programs.py: redis-cli and redis-benchmark
	wrk # test_programs.py: native load on nginx under vos
	libpython3.11-testsuite # scripts/cpython_compat.py: CPython's regression tests
	golang-go # test_go.py: a Go program (raw syscalls, goroutines on many threads) under vos
	groff-base # test_cli_docs.py: the man page renders without warnings (groff -man -ww)
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "install-deps.sh: missing packages (${missing[*]}) and not root, and sudo is not available: run as root: apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
