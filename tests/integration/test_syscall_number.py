"""The syscall number is eax (the kernel ignores rax's high bits): a raw
openat with high bits set on a volume path is served by the storage domain
as natively, not run on the host where the path does not exist."""
from conftest import run_native


def test_high_bits_of_rax_are_ignored_like_the_kernel(vos, volume):
    prog = vos.prog("highnr")
    native = run_native([prog, volume / "hello.txt"])
    assert native.returncode == 0 and native.stdout == "hello from the volume\n", native
    r = vos.run(["run", "-v", f"{volume}:/data", "--", prog, "/data/hello.txt"], timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == native.stdout, r
