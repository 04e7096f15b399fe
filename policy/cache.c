/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the on-disk cache of compiled databases (hs_serialize_database /
 * hs_deserialize_database), so that a restart with unchanged rules skips the compiler.
 *
 * One file per rule set: CACHE_DIR/<key>.hsdb, <key> the 32 hex digits of the hash of the
 * compile input (compile.c). Layout, host byte order (a cache is only read by the host that
 * wrote it: the key covers the Hyperscan version and this CPU's platform):
 *
 *	"SLPOLDB\0"  u32 version  u32 ndb  u8 key[16]
 *	ndb times:   u32 field  u32 stream  u32 hdr  u32 n  u64 len  u8 bytes[len]
 *	u8 sum[16]   hash of every byte before it
 *
 * pol_cache_load() returns 0 when every database was taken from the file, -ENOENT when there
 * is no file, -EINVAL when the file is short, corrupt (checksum), or does not describe this
 * rule set's databases (then nothing is kept: the caller compiles and rewrites it). Other
 * -errno for I/O errors. pol_cache_store() writes a temporary file and renames it into place
 * (readers never see half a file; a crash leaves at worst a stray temporary file), creating
 * the directory if needed; returns 0 or -errno. Neither is on a hot path; both run on the
 * loading thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/policy-int.h"

#define POL_CACHE_MAGIC   "SLPOLDB"
#define POL_CACHE_VERSION 1u
#define POL_CACHE_MAX     (1ull << 30)

struct cache_head {
	char magic[8];
	uint32_t version;
	uint32_t ndb;
	uint8_t key[16];
};

struct cache_ent {
	uint32_t field;
	uint32_t stream;
	uint32_t hdr;
	uint32_t n;
	uint64_t len;
};

void pol_db_hex_key(const struct pol_rules *r, char out[33])
{
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", r->key[i]);
}

static int cache_path(const struct pol_rules *r, const char *dir, char *out, size_t cap)
{
	char hex[33];

	pol_db_hex_key(r, hex);
	return (size_t)snprintf(out, cap, "%s/%s.hsdb", dir, hex) < cap ? 0 : -ENAMETOOLONG;
}

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > POL_CACHE_MAX) {
		close(fd);
		return -EINVAL;
	}
	*len = (size_t)st.st_size;
	if (!(*out = malloc(*len + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < *len && !rc) {
		ssize_t k = read(fd, *out + got, *len - got);

		if (k < 0 && errno == EINTR)
			continue;
		rc = k < 0 ? -errno : k == 0 ? -EINVAL : 0;
		got += k > 0 ? (size_t)k : 0;
	}
	close(fd);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* Check the whole file, then deserialize every database into hs[]. */
static int parse_file(const struct pol_rules *r, const uint8_t *p, size_t len, hs_database_t **hs)
{
	struct cache_head h;
	struct pol_hash sum;
	uint8_t want[16];
	size_t off = sizeof(h);

	if (len < sizeof(h) + 16)
		return -EINVAL;
	pol_hash_init(&sum, 0x5eedu);
	pol_hash_update(&sum, p, len - 16);
	pol_hash_final(&sum, want);
	memcpy(&h, p, sizeof(h));
	if (memcmp(want, p + len - 16, 16) || memcmp(h.magic, POL_CACHE_MAGIC, 8) ||
	    h.version != POL_CACHE_VERSION || h.ndb != r->ndb || memcmp(h.key, r->key, 16))
		return -EINVAL;
	for (uint32_t d = 0; d < r->ndb; d++) {
		const struct pol_db *db = &r->db[d];
		struct cache_ent e;

		if (len - 16 - off < sizeof(e))
			return -EINVAL;
		memcpy(&e, p + off, sizeof(e));
		off += sizeof(e);
		if (e.field != db->field || e.stream != db->stream || e.n != db->n ||
		    (db->field == POL_F_HDR_NAMED && e.hdr != db->hdr) || e.len > len - 16 - off)
			return -EINVAL;
		if (hs_deserialize_database((const char *)p + off, (size_t)e.len, &hs[d]) !=
		    HS_SUCCESS)
			return -EINVAL;
		off += (size_t)e.len;
	}
	return off == len - 16 ? 0 : -EINVAL;
}

int pol_cache_load(struct pol_rules *r, const char *dir)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	hs_database_t **hs;
	int rc;

	if ((rc = cache_path(r, dir, path, sizeof(path))))
		return rc;
	if ((rc = read_all(path, &buf, &len)))
		return rc;
	if (!(hs = calloc(r->ndb + 1, sizeof(*hs)))) {
		free(buf);
		return -ENOMEM;
	}
	rc = parse_file(r, buf, len, hs);
	for (uint32_t d = 0; d < r->ndb; d++) {
		if (rc)
			hs_free_database(hs[d]);
		else
			r->db[d].hs = hs[d];
	}
	free(hs);
	free(buf);
	return rc;
}

static int write_all(int fd, struct pol_hash *sum, const void *p, size_t n)
{
	const char *c = p;

	if (sum)
		pol_hash_update(sum, p, n);
	while (n) {
		ssize_t k = write(fd, c, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int write_file(const struct pol_rules *r, int fd)
{
	struct cache_head h = {.version = POL_CACHE_VERSION, .ndb = r->ndb};
	struct pol_hash sum;
	uint8_t out[16];
	int rc;

	memcpy(h.magic, POL_CACHE_MAGIC, 8);
	memcpy(h.key, r->key, 16);
	pol_hash_init(&sum, 0x5eedu);
	if ((rc = write_all(fd, &sum, &h, sizeof(h))))
		return rc;
	for (uint32_t d = 0; d < r->ndb && !rc; d++) {
		const struct pol_db *db = &r->db[d];
		struct cache_ent e = {
		    .field = db->field, .stream = db->stream, .hdr = db->hdr, .n = db->n};
		char *bytes = NULL;
		size_t n = 0;

		if (hs_serialize_database(db->hs, &bytes, &n) != HS_SUCCESS)
			return -ENOMEM;
		e.len = n;
		rc = write_all(fd, &sum, &e, sizeof(e));
		if (!rc)
			rc = write_all(fd, &sum, bytes, n);
		free(bytes);
	}
	if (rc)
		return rc;
	pol_hash_final(&sum, out);
	return write_all(fd, NULL, out, sizeof(out));
}

int pol_cache_store(const struct pol_rules *r, const char *dir)
{
	char path[4096], tmp[4096 + 64];
	int fd, rc;

	if ((rc = cache_path(r, dir, path, sizeof(path))))
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.%ld.%ld.tmp", path, (long)getpid(),
	         (long)syscall(SYS_gettid));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT && mkdir(dir, 0755) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_file(r, fd);
	if (close(fd) != 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
