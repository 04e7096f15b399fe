/* SPDX-License-Identifier: MIT */
/*
 * dp_priv.h - which user the daemon runs as, and dropping root after the sockets are bound.
 *
 * Rules (docs/CONFIG.md, key `user`): started as root, the daemon switches to `user`
 * (default "nobody") once its listening sockets are bound; user = "-" or "root" keeps root.
 * Started as another user, `user` must be empty, "-" or that same user.
 * Each spool directory must belong to the target user: it is created (0750) and given to the
 * user when missing or empty; a non-empty directory owned by someone else is an error rather
 * than being taken over.
 *
 * Functions: dp_priv_resolve, dp_priv_prepare_dir, dp_priv_drop: 0 or -errno with a message.
 */
#ifndef SLUICE_DATAPLANE_DP_PRIV_H
#define SLUICE_DATAPLANE_DP_PRIV_H

#include <stddef.h>
#include <sys/types.h>

struct dp_priv {
	int change; /* switch user at dp_priv_drop() */
	uid_t uid;
	gid_t gid;
	char name[64];
};

int dp_priv_resolve(struct dp_priv *p, const char *user, char *err, size_t errlen);
int dp_priv_prepare_dir(const struct dp_priv *p, const char *dir, char *err, size_t errlen);
int dp_priv_drop(const struct dp_priv *p, char *err, size_t errlen);

#endif
