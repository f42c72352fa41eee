"""execve of a static program by a client under vos, in every form that
libvos's hook (src/libvos/exec_static.c) must follow to start it through
vos-static: execve, execveat through a directory fd or of an fd
(AT_EMPTY_PATH: fexecve, also O_PATH and close-on-exec fds),
AT_SYMLINK_NOFOLLOW, a "#!" script whose interpreter is static (on the host
or in a volume). tests/progs/execat (dynamic, so libvos is in it) makes the
call; the static probe (tests/progs/static_probe.c) prints what it got and
whether it can read $CHECK_FILE: natively the host file, under vos the same
file at /data, which only a program with libvos can open. Same output and
status as natively."""
import subprocess

import pytest

from conftest import MOUNT, REPO, TIMEOUT, run_native, spec


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "probe"
    p = subprocess.run(
        ["gcc", "-O2", "-static", "-o", str(out), str(REPO / "tests/progs/static_probe.c")],
        capture_output=True,
        text=True,
        timeout=max(TIMEOUT, 120),
    )
    assert p.returncode == 0, p.stderr
    return out


def both(vos, volume, argv, native_argv=None):
    """(native, under vos) runs of argv; CHECK_FILE is hello.txt of the
    volume, by its host path natively and at /data under vos."""
    native = run_native(native_argv or argv, env={"CHECK_FILE": str(volume / "hello.txt")})
    r = vos.run_prog([spec(volume)], argv, env={"CHECK_FILE": f"{MOUNT}/hello.txt"})
    return native, r


@pytest.mark.parametrize("mode", ["path", "dirfd", "dirfd-cloexec", "fd", "fd-cloexec", "opath"])
def test_exec_forms_run_the_program_with_libvos(vos, volume, probe, mode):
    native, r = both(vos, volume, [vos.prog("execat"), mode, probe, "given0", "x"])
    assert native.returncode == 3 and "probe file: readable\n" in native.stdout, native
    assert "argv[0]=given0\nargv[1]=x\n" in native.stdout, native
    assert (r.returncode, r.stdout) == (3, native.stdout), r


def test_nofollow_on_a_symlink_is_eloop(vos, volume, probe, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(probe)
    native, r = both(vos, volume, [vos.prog("execat"), "nofollow", link, "l"])
    assert (native.returncode, native.stdout) == (1, "exec: ELOOP\n"), native
    assert (r.returncode, r.stdout) == (1, native.stdout), r
    # the program itself, not a symlink: runs
    native, r = both(vos, volume, [vos.prog("execat"), "nofollow", probe, "p"])
    assert native.returncode == 3, native
    assert (r.returncode, r.stdout) == (3, native.stdout), r


def test_no_execute_permission_is_eacces(vos, volume, probe, tmp_path):
    """The kernel's verdict is the launcher's too: EACCES from execve, not a
    launcher that starts and fails."""
    copy = tmp_path / "noexec"
    copy.write_bytes(probe.read_bytes())
    copy.chmod(0o644)
    for mode in ("path", "fd"):
        native, r = both(vos, volume, [vos.prog("execat"), mode, copy, "n"])
        assert (native.returncode, native.stdout) == (1, "exec: EACCES\n"), native
        assert (r.returncode, r.stdout) == (1, native.stdout), r


def test_script_with_static_interpreter(vos, volume, probe, tmp_path):
    """execve of a "#!" script whose interpreter is static, with an
    argument on the "#!" line: argv and AT_EXECFN as the kernel gives
    them."""
    script = tmp_path / "script"
    script.write_text(f"#!{probe}  one arg \n")
    script.chmod(0o755)
    native, r = both(vos, volume, [vos.prog("execat"), "path", script, "s", "x"])
    assert native.returncode == 3, native
    assert f"argv[0]={probe}\nargv[1]=one arg\nargv[2]={script}\nargv[3]=x\n" in native.stdout
    assert f"execfn={script}\n" in native.stdout, native
    assert (r.returncode, r.stdout) == (3, native.stdout), r


def test_script_in_volume_with_static_interpreter(vos, volume, probe):
    """The script lives in the volume (exec_volume.c), its interpreter on
    the host."""
    script = volume / "script"
    script.write_text(f"#!{probe}\n")
    script.chmod(0o755)
    native, r = both(
        vos,
        volume,
        [vos.prog("execat"), "path", f"{MOUNT}/script", "s", "x"],
        native_argv=[vos.prog("execat"), "path", script, "s", "x"],
    )
    assert native.returncode == 3, native
    assert (r.returncode, r.stdout) == (3, native.stdout.replace(str(volume), MOUNT)), r
    assert f"argv[1]={MOUNT}/script\n" in r.stdout, r


def test_program_in_volume_exec_forms(vos, volume, probe):
    """The static program in the volume: execve by its path there and
    fexecve of an fd opened there (exported by the domain)."""
    (volume / "probe").write_bytes(probe.read_bytes())
    (volume / "probe").chmod(0o755)
    for mode in ("path", "fd"):
        r = vos.run_prog(
            [spec(volume)],
            [vos.prog("execat"), mode, f"{MOUNT}/probe", "v", "x"],
            env={"CHECK_FILE": f"{MOUNT}/hello.txt"},
        )
        assert r.returncode == 3, r
        assert "argv[0]=v\nargv[1]=x\n" in r.stdout and "probe file: readable\n" in r.stdout, r
