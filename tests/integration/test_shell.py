"""Shell scripts under vos (issue 4, section 8): forks, redirections into
the volume (>, >>, 2>&1, here-documents), subshells, command substitution,
pipelines and `while read` loops, compared with the same script run
natively on a host directory."""
from conftest import MOUNT, run_native, spec

SCRIPT = r"""
set -u
D="$1"
mkdir "$D/sh" && cd "$D/sh" || exit 9
for i in 1 2 3 4 5; do
    echo "line $i" > "f$i.txt"
    seq 1 $((i * 10)) >> "f$i.txt"
done
cat > here.txt <<END_OF_HERE
here-document in $(basename "$D")
  indented $(echo substituted)
END_OF_HERE
ls nothere f1.txt > ls.out 2>&1; echo "ls status $?" >> ls.out
(cd "$D" && echo "subshell in $(basename "$PWD")" > sh/sub.txt)
echo "parent still in $(basename "$PWD")"
count=$(cat f*.txt | wc -l)
echo "lines: $count"
grep -h '^[0-9]*$' f*.txt | sort -n | uniq -c | sort -k1,1nr -k2,2n | head -5 > top.txt
total=0
while read -r c n; do total=$((total + c * n)); done < top.txt
echo "total $total"
{ echo grouped; cat here.txt; } | tr a-z A-Z > upper.txt
( exec 3> fd3.txt; echo "through fd 3" >&3 )
sh -c 'echo "child shell $0"; exit 3' name; echo "child status $?"
for f in *.txt; do printf '%s %s\n' "$f" "$(wc -c < "$f")"; done
cat ls.out sub.txt upper.txt fd3.txt
"""


def test_shell_script_on_volume(vos, volume, tmp_path):
    # a native directory of the same name as the mount point: same output
    host = tmp_path / MOUNT.strip("/")
    host.mkdir()
    native = run_native(["sh", "-c", SCRIPT, "sh", str(host)])
    assert native.returncode == 0, native
    assert "child status 3" in native.stdout and "total " in native.stdout, native
    r = vos.run_prog([spec(volume)], ["sh", "-c", SCRIPT, "sh", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
    assert (volume / "sh" / "fd3.txt").read_text() == "through fd 3\n"
    assert (volume / "sh" / "sub.txt").read_text() == f"subshell in {MOUNT[1:]}\n"


BASH = r"""
set -o pipefail
D="$1"
printf '%s\n' c a b a > "$D/in.txt"
mapfile -t lines < "$D/in.txt"
echo "${#lines[@]} lines, first ${lines[0]}"
diff <(sort "$D/in.txt") <(sort -u "$D/in.txt") > "$D/diff.txt"; echo "diff $?"
false | cat; echo "pipefail $?"
sort "$D/in.txt" | uniq -c | while read -r c w; do echo "$w=$c"; done >> "$D/diff.txt"
cat "$D/diff.txt"
"""


def test_bash_pipeline_with_process_substitution(vos, volume, tmp_path):
    """bash: pipefail, process substitution (/dev/fd pipes), mapfile from a
    file in the volume, a `while read` loop appending to it."""
    native = run_native(["bash", "-c", BASH, "bash", str(tmp_path)])
    assert native.returncode == 0, native
    assert "diff 1" in native.stdout, native
    r = vos.run_prog([spec(volume)], ["bash", "-c", BASH, "bash", MOUNT])
    assert (r.returncode, r.stdout) == (0, native.stdout), r
