/* PROGRAM lookup (shell statuses 126/127) and the refusal of programs that
 * would silently bypass libvos (static, 32-bit, foreign architecture,
 * set-user-ID), including through "#!" interpreters. The ELF files are
 * crafted here so the test does not depend on a static toolchain. */
#include <elf.h>
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
	assert_int_equal(program_check_loadable("sh", "/bin/sh", err, sizeof(err)), 0);
	write_elf("dynamic", ELFCLASS64, EM_X86_64, true);
	assert_int_equal(program_check_loadable("dynamic", in_dir("dynamic"), err, sizeof(err)), 0);
}

static void test_static_refused(void **state)
{
	(void)state;
	char err[1024] = "";
	write_elf("static", ELFCLASS64, EM_X86_64, false);
	expect(program_check_loadable("static", in_dir("static"), err, sizeof(err)), VOS_EXIT_USAGE,
	       err, "statically linked programs are not supported yet");
	assert_true(strncmp(err, "vos run: 'static'", 17) == 0);
}

static void test_foreign_refused(void **state)
{
	(void)state;
	char err[1024] = "";
	write_elf("elf32", ELFCLASS32, EM_386, true);
	expect(program_check_loadable("elf32", in_dir("elf32"), err, sizeof(err)), VOS_EXIT_USAGE,
	       err, "32-bit program");
	write_elf("arm64", ELFCLASS64, EM_AARCH64, true);
	expect(program_check_loadable("arm64", in_dir("arm64"), err, sizeof(err)), VOS_EXIT_USAGE,
	       err, "not an x86-64 program");
}

static void test_scripts(void **state)
{
	(void)state;
	char err[1024] = "";
	char text[PATH_MAX + 64];

	write_file("s_ok", "#! /bin/sh -e\necho hi\n", 22, 0755);
	assert_int_equal(program_check_loadable("s_ok", in_dir("s_ok"), err, sizeof(err)), 0);

	write_elf("static", ELFCLASS64, EM_X86_64, false);
	int n = snprintf(text, sizeof(text), "#!%s\n", in_dir("static"));
	write_file("s_static", text, (size_t)n, 0755);
	expect(program_check_loadable("s_static", in_dir("s_static"), err, sizeof(err)),
	       VOS_EXIT_USAGE, err, "(the interpreter of 's_static') is statically linked");

	/* A script running a script running a static binary. */
	n = snprintf(text, sizeof(text), "#!%s\n", in_dir("s_static"));
	write_file("s_nested", text, (size_t)n, 0755);
	expect(program_check_loadable("s_nested", in_dir("s_nested"), err, sizeof(err)),
	       VOS_EXIT_USAGE, err, "statically linked");

	write_file("s_missing", "#!/nonexistent-vos/sh\n", 22, 0755);
	expect(program_check_loadable("s_missing", in_dir("s_missing"), err, sizeof(err)),
	       VOS_EXIT_NOEXEC, err, "bad interpreter");

	/* Neither ELF nor script: execve() gives the verdict. */
	write_file("text", "hello\n", 6, 0755);
	assert_int_equal(program_check_loadable("text", in_dir("text"), err, sizeof(err)), 0);
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
	expect(program_check_loadable("setuid", in_dir("setuid"), err, sizeof(err)), VOS_EXIT_USAGE,
	       err, "set-user-ID");
	/* Set-user-ID to ourselves changes nothing: accepted. */
	assert_int_equal(chown(in_dir("setuid"), 0, 0), 0);
	assert_int_equal(chmod(in_dir("setuid"), 04755), 0);
	assert_int_equal(program_check_loadable("setuid", in_dir("setuid"), err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_in_path),	 cmocka_unit_test(test_resolve_with_slash),
		cmocka_unit_test(test_not_found),	 cmocka_unit_test(test_not_executable),
		cmocka_unit_test(test_dynamic_accepted), cmocka_unit_test(test_static_refused),
		cmocka_unit_test(test_foreign_refused),	 cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_setuid_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
