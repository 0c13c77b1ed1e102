/* The default seccomp filter of a container, modelled on docker's default profile: the
 * system calls docker refuses (kernel modules, kexec, mount, namespaces, ptrace, keyrings,
 * clock changes, BPF...) fail with EPERM, unless the container holds the capability docker
 * grants them with (SYS_ADMIN, SYS_PTRACE, SYS_MODULE...). Built with libseccomp. */
#ifndef BERTH_CLIENT_SECCOMP_H
#define BERTH_CLIENT_SECCOMP_H

#include "client/caps.h"
#include "common/berr.h"

/* Load the filter into the calling thread (needs no_new_privs or CAP_SYS_ADMIN). The last
 * call before execve. */
int seccomp_apply_default(caps_t caps, struct berr *err);

#endif
