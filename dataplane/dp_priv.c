/* SPDX-License-Identifier: MIT */
/*
 * dp_priv.c - user switching and spool directory ownership (see dp_priv.h).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataplane/dp_priv.h"

int dp_priv_resolve(struct dp_priv *p, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t me = geteuid();

	memset(p, 0, sizeof(*p));
	p->uid = me;
	p->gid = getegid();
	if (strcmp(user, "-") == 0)
		return 0;
	if (me != 0) {
		pw = getpwuid(me);
		if (user[0] == '\0' || (pw && strcmp(pw->pw_name, user) == 0))
			return 0;
		snprintf(err, errlen, "user = %s: not started as root, cannot switch users", user);
		return -EPERM;
	}
	if (user[0] == '\0')
		user = "nobody";
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user = %s: no such user", user);
		return -ENOENT;
	}
	snprintf(p->name, sizeof(p->name), "%s", user);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	p->change = pw->pw_uid != 0;
	return 0;
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

/* Can the target user reach and write dir? Checked in a child that switches users. */
static int user_can_use(const struct dp_priv *p, const char *dir)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 1; /* cannot check: let the worker report what fails */
	if (pid == 0) {
		if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0)
			_exit(2);
		_exit(access(dir, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int dp_priv_prepare_dir(const struct dp_priv *p, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "spool %s: cannot create: %s", dir, strerror(errno));
		return rc;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "spool %s: not a directory", dir);
		return -ENOTDIR;
	}
	if (!p->change)
		return 0;
	if (st.st_uid != p->uid && !dir_is_empty(dir)) {
		snprintf(err, errlen,
		         "spool %s belongs to uid %u, not to user %s (uid %u): chown it, or set "
		         "user (--user -, to keep running as root)",
		         dir, (unsigned)st.st_uid, p->name, (unsigned)p->uid);
		return -EPERM;
	}
	if (st.st_uid != p->uid && chown(dir, p->uid, p->gid) != 0) {
		rc = -errno;
		snprintf(err, errlen, "spool %s: chown to %s: %s", dir, p->name, strerror(errno));
		return rc;
	}
	if (!user_can_use(p, dir)) {
		snprintf(err, errlen,
		         "spool %s: user %s cannot reach it (is a parent directory closed to it?); "
		         "make it reachable, or keep running as root with --user -",
		         dir, p->name);
		return -EACCES;
	}
	return 0;
}

int dp_priv_drop(const struct dp_priv *p, char *err, size_t errlen)
{
	if (!p->change)
		return 0;
	if (setgroups(1, &p->gid) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0) {
		int rc = -errno;

		snprintf(err, errlen, "switching to user %s: %s", p->name, strerror(errno));
		return rc;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "switching to user %s: root could be regained", p->name);
		return -EPERM;
	}
	return 0;
}
