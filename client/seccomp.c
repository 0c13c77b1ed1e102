/* docker's default seccomp profile is an allow-list of ~350 calls whose effect is to refuse
 * the calls below; berth states the refusals directly (default allow), for every
 * architecture of the host (x86-64, x86 and x32 on amd64) so 32-bit entry points are
 * covered too. clone3 fails with ENOSYS, as docker does, so libc falls back to clone(2),
 * whose flags can be inspected (CLONE_NEW* refused without SYS_ADMIN). */
#include "client/seccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>

struct seccomp_denied {
	const char *name;
	int cap; /* the capability that allows it, -1 for none */
};

static const struct seccomp_denied seccomp_denied[] = {
    {"acct", CAP_SYS_PACCT},
    {"add_key", -1},
    {"bpf", CAP_SYS_ADMIN},
    {"clock_adjtime", CAP_SYS_TIME},
    {"clock_settime", CAP_SYS_TIME},
    {"create_module", CAP_SYS_MODULE},
    {"delete_module", CAP_SYS_MODULE},
    {"finit_module", CAP_SYS_MODULE},
    {"fsconfig", CAP_SYS_ADMIN},
    {"fsmount", CAP_SYS_ADMIN},
    {"fsopen", CAP_SYS_ADMIN},
    {"fspick", CAP_SYS_ADMIN},
    {"get_kernel_syms", CAP_SYS_MODULE},
    {"get_mempolicy", CAP_SYS_NICE},
    {"init_module", CAP_SYS_MODULE},
    {"ioperm", CAP_SYS_RAWIO},
    {"iopl", CAP_SYS_RAWIO},
    {"kcmp", CAP_SYS_PTRACE},
    {"kexec_file_load", CAP_SYS_BOOT},
    {"kexec_load", CAP_SYS_BOOT},
    {"keyctl", -1},
    {"lookup_dcookie", CAP_SYS_ADMIN},
    {"mbind", CAP_SYS_NICE},
    {"mount", CAP_SYS_ADMIN},
    {"mount_setattr", CAP_SYS_ADMIN},
    {"move_mount", CAP_SYS_ADMIN},
    {"move_pages", CAP_SYS_NICE},
    {"name_to_handle_at", CAP_DAC_READ_SEARCH},
    {"nfsservctl", CAP_SYS_ADMIN},
    {"open_by_handle_at", CAP_DAC_READ_SEARCH},
    {"open_tree", CAP_SYS_ADMIN},
    {"perf_event_open", CAP_PERFMON},
    {"pivot_root", CAP_SYS_ADMIN},
    {"process_vm_readv", CAP_SYS_PTRACE},
    {"process_vm_writev", CAP_SYS_PTRACE},
    {"ptrace", CAP_SYS_PTRACE},
    {"query_module", CAP_SYS_MODULE},
    {"quotactl", CAP_SYS_ADMIN},
    {"quotactl_fd", CAP_SYS_ADMIN},
    {"reboot", CAP_SYS_BOOT},
    {"request_key", -1},
    {"set_mempolicy", CAP_SYS_NICE},
    {"setns", CAP_SYS_ADMIN},
    {"settimeofday", CAP_SYS_TIME},
    {"stime", CAP_SYS_TIME},
    {"swapoff", CAP_SYS_ADMIN},
    {"swapon", CAP_SYS_ADMIN},
    {"sysfs", -1},
    {"_sysctl", -1},
    {"syslog", CAP_SYSLOG},
    {"umount", CAP_SYS_ADMIN},
    {"umount2", CAP_SYS_ADMIN},
    {"unshare", CAP_SYS_ADMIN},
    {"uselib", -1},
    {"userfaultfd", CAP_SYS_PTRACE},
    {"ustat", -1},
    {"vm86", -1},
    {"vm86old", -1},
};

int seccomp_apply_default(caps_t caps, struct berr *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return berr_set(err, BERR_INTERNAL, "seccomp: cannot create a filter");
	int rc = 0;
#if defined(__x86_64__)
	/* The 32-bit and x32 entry points too (EEXIST: already the native one). */
	if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && rc != -EEXIST)
		goto fail;
	if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && rc != -EEXIST)
		goto fail;
#elif defined(__aarch64__)
	if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_ARM)) < 0 && rc != -EEXIST)
		goto fail;
#endif
	for (size_t i = 0; i < sizeof seccomp_denied / sizeof seccomp_denied[0]; i++) {
		if (seccomp_denied[i].cap >= 0 && caps_has(caps, seccomp_denied[i].cap))
			continue;
		int nr = seccomp_syscall_resolve_name(seccomp_denied[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call of this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0 && rc != -EDOM && rc != -EINVAL)
			goto fail;
	}
	if (!caps_has(caps, CAP_SYS_ADMIN)) {
		/* clone(2)'s flags are its first argument on x86 and arm64: one rule per flag. */
		static const scmp_datum_t ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
		                                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
		for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			                      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
			if (rc < 0)
				goto fail;
		}
		int nr = seccomp_syscall_resolve_name("clone3");
		if (nr != __NR_SCMP_ERROR && (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
			goto fail;
	}
	if ((rc = seccomp_load(ctx)) < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return berr_set(err, BERR_INTERNAL, "seccomp: building the filter failed (%d)", rc);
}
