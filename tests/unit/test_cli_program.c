/* PROGRAM lookup (shell statuses 126/127), the refusal of programs that
 * would silently bypass libvos (32-bit, foreign architecture, set-user-ID),
 * and static programs started through vos-static, including through "#!"
 * interpreters. The ELF files are
 * crafted here so the test does not depend on a static toolchain. */
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/program_check.h"
#include "cli/run_args.h"

static char dir[PATH_MAX];
static char path_buf[PATH_MAX + 64];

static const char *in_dir(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	const char *p = in_dir(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, mode), 0);
}

/* A minimal ELF executable: header plus program headers. */
static void write_elf(const char *name, unsigned char cls, uint16_t machine, bool interp)
{
	unsigned char buf[sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr)];
	memset(buf, 0, sizeof(buf));
	if (cls == ELFCLASS32) {
		Elf32_Ehdr eh = {.e_type = ET_EXEC, .e_machine = EM_386, .e_version = EV_CURRENT};
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		memcpy(buf, &eh, sizeof(eh));
		write_file(name, buf, sizeof(buf), 0755);
		return;
	}
	Elf64_Ehdr eh = {
		.e_type = ET_EXEC,
		.e_machine = machine,
		.e_version = EV_CURRENT,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 2,
	};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	Elf64_Phdr ph[2] = {{.p_type = PT_LOAD}, {.p_type = interp ? PT_INTERP : PT_NOTE}};
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), ph, sizeof(ph));
	write_file(name, buf, sizeof(buf), 0755);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vos-test-prog.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	static const char *names[] = {"static",	   "dynamic",  "elf32", "arm64",
				      "noexec",	   "runme",    "s_ok",	"s_static",
				      "s_missing", "s_nested", "text",	"setuid"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(in_dir(names[i]));
	rmdir(dir);
	return 0;
}

static void expect(int rc, int want_rc, const char *err, const char *want)
{
	assert_int_equal(rc, want_rc);
	if (!strstr(err, want))
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
}

static void test_resolve_in_path(void **state)
{
	(void)state;
	char err[1024] = "";
	char *out = NULL;
	assert_int_equal(program_resolve("sh", "/nonexistent-vos:/bin", &out, err, sizeof(err)), 0);
	assert_string_equal(out, "/bin/sh");
	free(out);

	/* An empty $PATH entry is the current directory. */
	write_file("runme", "#!/bin/sh\n", 10, 0755);
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	int rc = program_resolve("runme", "/nonexistent-vos:", &out, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "./runme");
	free(out);
}

static void test_resolve_with_slash(void **state)
{
	(void)state;
	char err[1024] = "";
	char *out = NULL;
	assert_int_equal(program_resolve("/bin/sh", NULL, &out, err, sizeof(err)), 0);
	assert_string_equal(out, "/bin/sh");
	free(out);
}

static void test_not_found(void **state)
{
	(void)state;
	char err[1024] = "";
	char *out = NULL;
	expect(program_resolve("vos-no-such-program", "/bin:/usr/bin", &out, err, sizeof(err)),
	       VOS_EXIT_NOTFOUND, err, "'vos-no-such-program' not found in $PATH");
	assert_null(out);
	expect(program_resolve("./vos-no-such-program", NULL, &out, err, sizeof(err)),
	       VOS_EXIT_NOTFOUND, err, "does not exist");
	expect(program_resolve("", NULL, &out, err, sizeof(err)), VOS_EXIT_NOTFOUND, err, "empty");
}

static void test_not_executable(void **state)
{
	(void)state;
	char err[1024] = "";
	char *out = NULL;
	write_file("noexec", "#!/bin/sh\n", 10, 0644);
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s", in_dir("noexec"));
	expect(program_resolve(p, NULL, &out, err, sizeof(err)), VOS_EXIT_NOEXEC, err,
	       "is not executable");
	/* Found only as a non-executable file in $PATH. */
	expect(program_resolve("noexec", dir, &out, err, sizeof(err)), VOS_EXIT_NOEXEC, err,
	       "was found as");
	expect(program_resolve("/", NULL, &out, err, sizeof(err)), VOS_EXIT_NOEXEC, err,
	       "is a directory");
	assert_null(out);
}

static void test_dynamic_accepted(void **state)
{
	(void)state;
	char err[1024] = "";
	assert_int_equal(program_check_loadable("sh", "/bin/sh", NULL, err, sizeof(err)), 0);
	write_elf("dynamic", ELFCLASS64, EM_X86_64, true);
	assert_int_equal(
		program_check_loadable("dynamic", in_dir("dynamic"), NULL, err, sizeof(err)), 0);
}

static void test_static_launched(void **state)
{
	(void)state;
	char err[1024] = "";
	struct program_start st = {.launcher = false};
	write_elf("static", ELFCLASS64, EM_X86_64, false);
	assert_int_equal(program_check_loadable("static", in_dir("static"), &st, err, sizeof(err)),
			 0);
	assert_true(st.launcher);
	assert_null(st.interp);
	char *argv[] = {"static", "a", NULL};
	char prog[PATH_MAX + 64], **out = NULL;
	snprintf(prog, sizeof(prog), "%s", in_dir("static"));
	assert_int_equal(
		program_start_argv(&st, "/l/vos-static", prog, argv, &out, err, sizeof(err)), 0);
	/* the program goes to the launcher as an inherited fd */
	assert_true(st.fd_open);
	assert_int_equal(fcntl(st.fd, F_GETFD), 0);
	char fd_arg[16];
	snprintf(fd_arg, sizeof(fd_arg), "%d", st.fd);
	assert_string_equal(out[0], "/l/vos-static");
	assert_string_equal(out[1], "--exec-fd");
	assert_string_equal(out[2], fd_arg);
	assert_string_equal(out[3], prog);
	assert_string_equal(out[4], "static");
	assert_string_equal(out[5], "a");
	assert_null(out[6]);
	free(out);
	int fd = st.fd;
	program_start_free(&st);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	/* gone meanwhile: 127 and a message */
	expect(program_start_argv(&st, "/l/vos-static", in_dir("nothing"), argv, &out, err,
				  sizeof(err)),
	       VOS_EXIT_NOTFOUND, err, "cannot open");
	assert_false(st.fd_open);
	/* a dynamic program needs no launcher */
	write_elf("dynamic", ELFCLASS64, EM_X86_64, true);
	assert_int_equal(
		program_check_loadable("dynamic", in_dir("dynamic"), &st, err, sizeof(err)), 0);
	assert_false(st.launcher);
}

static void test_foreign_refused(void **state)
{
	(void)state;
	char err[1024] = "";
	write_elf("elf32", ELFCLASS32, EM_386, true);
	expect(program_check_loadable("elf32", in_dir("elf32"), NULL, err, sizeof(err)),
	       VOS_EXIT_USAGE, err, "32-bit program");
	write_elf("arm64", ELFCLASS64, EM_AARCH64, true);
	expect(program_check_loadable("arm64", in_dir("arm64"), NULL, err, sizeof(err)),
	       VOS_EXIT_USAGE, err, "not an x86-64 program");
}

static void test_scripts(void **state)
{
	(void)state;
	char err[1024] = "";
	char text[PATH_MAX + 64];

	write_file("s_ok", "#! /bin/sh -e\necho hi\n", 22, 0755);
	assert_int_equal(program_check_loadable("s_ok", in_dir("s_ok"), NULL, err, sizeof(err)), 0);

	write_elf("static", ELFCLASS64, EM_X86_64, false);
	int n = snprintf(text, sizeof(text), "#!%s  -x  y \n", in_dir("static"));
	write_file("s_static", text, (size_t)n, 0755);
	struct program_start st;
	assert_int_equal(
		program_check_loadable("s_static", in_dir("s_static"), &st, err, sizeof(err)), 0);
	assert_true(st.launcher);
	assert_string_equal(st.interp, in_dir("static"));
	assert_string_equal(st.interp_arg, "-x  y");
	/* as the kernel runs it: INTERP [ARG] SCRIPT ARGS... */
	char *argv[] = {"s_static", "a", NULL};
	char **out = NULL;
	/* the interpreter is the file handed over */
	assert_int_equal(program_start_argv(&st, "/l/vos-static", "./s_static", argv, &out, err,
					    sizeof(err)),
			 0);
	assert_true(st.fd_open);
	assert_string_equal(out[0], "/l/vos-static");
	assert_string_equal(out[1], "--exec-fd");
	assert_string_equal(out[2], st.fd_arg);
	assert_string_equal(out[3], "--execfn");
	assert_string_equal(out[4], "./s_static");
	assert_string_equal(out[5], st.interp);
	assert_string_equal(out[6], st.interp);
	assert_string_equal(out[7], "-x  y");
	assert_string_equal(out[8], "./s_static");
	assert_string_equal(out[9], "a");
	assert_null(out[10]);
	free(out);
	program_start_free(&st);

	/* A script running a script running a static binary: refused. */
	n = snprintf(text, sizeof(text), "#!%s\n", in_dir("s_static"));
	write_file("s_nested", text, (size_t)n, 0755);
	expect(program_check_loadable("s_nested", in_dir("s_nested"), NULL, err, sizeof(err)),
	       VOS_EXIT_USAGE, err,
	       "(the interpreter of 's_nested') is a script whose interpreter");

	write_file("s_missing", "#!/nonexistent-vos/sh\n", 22, 0755);
	expect(program_check_loadable("s_missing", in_dir("s_missing"), NULL, err, sizeof(err)),
	       VOS_EXIT_NOEXEC, err, "bad interpreter");

	/* Neither ELF nor script: execve() gives the verdict. */
	write_file("text", "hello\n", 6, 0755);
	assert_int_equal(program_check_loadable("text", in_dir("text"), NULL, err, sizeof(err)), 0);
}

static void test_setuid_refused(void **state)
{
	(void)state;
	char err[1024] = "";
	struct statvfs vfs;
	/* Needs chown to another user, and set-user-ID bits that count. */
	if (geteuid() != 0 || statvfs(dir, &vfs) != 0 || (vfs.f_flag & ST_NOSUID))
		skip();
	write_elf("setuid", ELFCLASS64, EM_X86_64, true);
	assert_int_equal(chown(in_dir("setuid"), 65534, 65534), 0);
	assert_int_equal(chmod(in_dir("setuid"), 04755), 0);
	expect(program_check_loadable("setuid", in_dir("setuid"), NULL, err, sizeof(err)),
	       VOS_EXIT_USAGE, err, "set-user-ID");
	/* Set-user-ID to ourselves changes nothing: accepted. */
	assert_int_equal(chown(in_dir("setuid"), 0, 0), 0);
	assert_int_equal(chmod(in_dir("setuid"), 04755), 0);
	assert_int_equal(program_check_loadable("setuid", in_dir("setuid"), NULL, err, sizeof(err)),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_in_path),	 cmocka_unit_test(test_resolve_with_slash),
		cmocka_unit_test(test_not_found),	 cmocka_unit_test(test_not_executable),
		cmocka_unit_test(test_dynamic_accepted), cmocka_unit_test(test_static_launched),
		cmocka_unit_test(test_foreign_refused),	 cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_setuid_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
