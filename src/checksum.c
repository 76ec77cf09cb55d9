/*-------------------------------------------------------------------------
 *
 * checksum.c
 *	  Normalised SHA-256 of migration SQL.
 *
 * The checksum is taken over the SQL text after stripping a leading UTF-8
 * byte order mark and turning CRLF and lone CR line endings into LF, so the
 * same file checked out on Windows, macOS or Linux gives the same checksum.
 * Nothing else is normalised: any other change is a change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "schema_mgr.h"

PG_FUNCTION_INFO_V1(sm_migration_checksum);

static void
checksum_update(pg_cryptohash_ctx *ctx, const char *data, size_t len)
{
	if (len > 0 && pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "could not update SHA-256 checksum: %s",
			 pg_cryptohash_error(ctx));
}

/*
 * sm_sql_checksum
 *		Hex SHA-256 of the normalised text, palloc'd in the current context.
 */
char *
sm_sql_checksum(const char *data, size_t len)
{
	pg_cryptohash_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex;
	const char *p = data;
	const char *end = data + len;
	const char *run;
	int			i;

	/* skip a UTF-8 byte order mark */
	if (len >= 3 && (unsigned char) p[0] == 0xEF &&
		(unsigned char) p[1] == 0xBB && (unsigned char) p[2] == 0xBF)
		p += 3;

	ctx = pg_cryptohash_create(PG_SHA256);
	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not initialize SHA-256 checksum");

	/* hash runs of text without CR; every CR (with an LF after it) is LF */
	run = p;
	while (p < end)
	{
		if (*p == '\r')
		{
			checksum_update(ctx, run, p - run);
			checksum_update(ctx, "\n", 1);
			p++;
			if (p < end && *p == '\n')
				p++;
			run = p;
		}
		else
			p++;
	}
	checksum_update(ctx, run, p - run);

	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not finalize SHA-256 checksum: %s",
			 pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);

	hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + i * 2, 3, "%02x", digest[i]);
	return hex;
}

/*
 * migration_checksum(sql text) returns text
 */
Datum
sm_migration_checksum(PG_FUNCTION_ARGS)
{
	text	   *sql = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(sm_sql_checksum(VARDATA_ANY(sql),
													 VARSIZE_ANY_EXHDR(sql))));
}
