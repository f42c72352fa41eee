"""The command line's documentation: --help of every subcommand, the man page
(renders without warnings, covers every subcommand and every option the help
texts list), and the bash completion (sourced in a real bash)."""
import re
import shutil
import subprocess

import pytest

from conftest import REPO

COMMANDS = ["run", "up", "down", "status", "stats", "kill", "restart", "top"]
MAN = REPO / "docs" / "vos.1"
COMPLETION = REPO / "contrib" / "bash-completion" / "vos"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_of_every_subcommand(vos, cmd):
    for flag in ("--help", "-h"):
        r = vos.run([cmd, flag])
        assert r.returncode == 0, r
        assert r.stdout.startswith(f"Usage: vos {cmd}"), r
        assert r.stderr == "", r


def test_main_help_lists_commands(vos):
    r = vos.run(["--help"])
    assert r.returncode == 0
    for cmd in COMMANDS:
        assert re.search(rf"^  {cmd}\b", r.stdout, re.M), f"{cmd} missing in:\n{r.stdout}"


def man_text():
    r = subprocess.run(["groff", "-man", "-Tutf8", "-P-c", "-ww", str(MAN)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_man_page_renders_without_warnings():
    r = subprocess.run(["groff", "-man", "-ww", "-z", str(MAN)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_man_page_covers_commands_and_options(vos):
    text, _ = man_text()
    text = re.sub(r".\x08", "", text).replace("\u2010", "-").replace("\u2212", "-")
    for cmd in COMMANDS:
        assert re.search(rf"\b{cmd}\b", text), cmd
    for cmd in COMMANDS:
        help_text = vos.run([cmd, "--help"]).stdout
        for opt in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_text)):
            assert opt in text, f"man page lacks {opt} (from vos {cmd} --help)"
    for section in ("CONFIGURATION FILE", "ENVIRONMENT", "EXIT STATUS"):
        assert section in text
    for var in ("VOS_CONFIG", "VOS_SUPERVISOR", "VOS_SPIN_NS", "VOS_MAX_WORKERS",
                "VOS_DOMAIN_DEADLINE_MS", "VOS_RESTART_MAX", "VOS_CHAN_SLOTS"):
        assert var in text, var


def complete(words, cwd):
    """COMPREPLY of the completion function for the command line `words`
    (the last word is the one being completed)."""
    script = (
        f"source {COMPLETION}\n"
        "complete -p vos\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_vos\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, timeout=60, cwd=cwd)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "complete -F _vos vos", r.stdout
    return sorted(l for l in lines[1:] if l)


def test_bash_completion(tmp_path):
    (tmp_path / "datadir").mkdir()
    (tmp_path / "datafile").write_text("")
    (tmp_path / "vos.conf").write_text("")
    assert complete(["vos", "st"], tmp_path) == ["stats", "status"]
    assert complete(["vos", "kill", ""], tmp_path) == ["net", "storage"]
    assert complete(["vos", "restart", "s"], tmp_path) == ["storage"]
    assert complete(["vos", "run", "--no-"], tmp_path) == ["--no-config", "--no-isolate",
                                                           "--no-net"]
    assert complete(["vos", "run", "--net", ""], tmp_path) == ["host", "private"]
    # after -v: directories (SRC), not plain files
    assert complete(["vos", "run", "-v", "data"], tmp_path) == ["datadir"]
    assert complete(["vos", "run", "--config", "vos."], tmp_path) == ["vos.conf"]
    assert complete(["vos", "top", "--o"], tmp_path) == ["--once"]
    # after --: the program
    assert "sh" in complete(["vos", "run", "-v", "a:/a", "--", "sh"], tmp_path)


def test_make_install_into_destdir(vos, tmp_path):
    """make install puts a working vos, its man page and completion under
    DESTDIR/PREFIX (the build itself is not redone: -o)."""
    build = vos.build
    rel = build.relative_to(REPO) if build.is_relative_to(REPO) else build
    olds = [a for n in ("vos", "vos-domain", "libvos.so") for a in ("-o", f"{rel}/{n}")]
    r = subprocess.run(["make", "-s", "-C", str(REPO), f"BUILD={rel}", f"DESTDIR={tmp_path}",
                        "PREFIX=/opt/v", *olds, "install"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "opt" / "v"
    for f in ("bin/vos", "lib/vos/vos", "lib/vos/vos-domain", "lib/vos/libvos.so",
              "share/man/man1/vos.1", "share/bash-completion/completions/vos"):
        assert (root / f).exists(), f
    r2 = subprocess.run([str(root / "bin" / "vos"), "run", "--", "echo", "installed"],
                        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r2.returncode == 0 and r2.stdout == "installed\n", r2
