/*-------------------------------------------------------------------------
 *
 * migrate_messages.c
 *	  How much of a migration's SQL an error message shows.
 *
 * A migration can be tens of megabytes (a data load) and can hold secrets
 * (CREATE ROLE ... PASSWORD).  Messages about it therefore never carry it
 * whole: they say where the error is (statement and line), and show the
 * statement (or migration) when it has at most MIG_EXCERPT_BYTES, or else
 * at most that much of the line the error is on, around the error.  Message
 * texts and each line of context are cut at MIG_MESSAGE_BYTES (a scanner
 * error quotes the rest of the input).  A role that may not read the
 * migration's SQL (it lacks EXECUTE on migration_sql and the privileges of
 * the registrant) sees no excerpt and no statement text at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "schema_mgr.h"
#include "migrate.h"

/*
 * mig_clip
 *		s, or its first maxbytes bytes (whole characters) followed by "...".
 */
char *
mig_clip(const char *s, int maxbytes)
{
	int			len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len <= maxbytes)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, maxbytes);
	return psprintf("%.*s...", len, s);
}

/*
 * mig_excerpt
 *		The part of sql to show for an error at (1-based, character)
 *		position pos: all of it when it is short, or else the line it is
 *		on, cut to at most MIG_EXCERPT_BYTES around the position ("..."
 *		marks what is cut).  Sets *newpos to the
 *		position inside the excerpt and *line to the 1-based line number.
 */
char *
mig_excerpt(const char *sql, int pos, int *newpos, int *line)
{
	const char *p = sql;
	const char *start;
	const char *end;
	const char *from;
	const char *to;
	const char *q;
	int			i;
	bool		cut_front;
	StringInfoData buf;

	*line = 1;
	for (i = 1; i < pos && *p; i++)
	{
		if (*p == '\n')
			(*line)++;
		p += pg_mblen(p);
	}
	/* short enough: all of it */
	if (strlen(sql) <= MIG_EXCERPT_BYTES)
	{
		*newpos = pos;
		return pstrdup(sql);
	}

	start = p;
	while (start > sql && start[-1] != '\n')
		start--;
	end = p;
	while (*end && *end != '\n')
		end++;

	/* a window around p, on character boundaries */
	from = start;
	if (p - start > MIG_EXCERPT_BYTES / 2)
	{
		q = start;
		while (q < p && p - q > MIG_EXCERPT_BYTES / 2)
			q += pg_mblen(q);
		from = q;
	}
	to = from + pg_mbcliplen(from, end - from, MIG_EXCERPT_BYTES);
	if (to < p)
		to = p;
	cut_front = from > start;

	initStringInfo(&buf);
	if (cut_front)
		appendStringInfoString(&buf, "...");
	appendBinaryStringInfo(&buf, from, to - from);
	if (to < end)
		appendStringInfoString(&buf, "...");
	*newpos = pg_mbstrlen_with_len(from, p - from) + 1 + (cut_front ? 3 : 0);
	return buf.data;
}

/*
 * mig_clip_context
 *		An error's context lines, each cut at MIG_MESSAGE_BYTES; without the
 *		lines that quote statement text when show_sql is false.
 */
char *
mig_clip_context(const char *context, bool show_sql)
{
	StringInfoData buf;
	const char *p = context;

	if (context == NULL)
		return NULL;
	initStringInfo(&buf);
	while (*p)
	{
		const char *nl = strchr(p, '\n');
		int			len = nl ? nl - p : (int) strlen(p);
		char	   *ln = pnstrdup(p, len);

		if (show_sql || strncmp(ln, "SQL statement \"", 15) != 0)
		{
			if (buf.len > 0)
				appendStringInfoChar(&buf, '\n');
			appendStringInfoString(&buf, mig_clip(ln, MIG_MESSAGE_BYTES));
		}
		pfree(ln);
		p += len;
		if (*p == '\n')
			p++;
	}
	return buf.len > 0 ? buf.data : NULL;
}

/*
 * mig_subject
 *		What messages call a migration: 'migration "shop" version 3',
 *		'undo of migration "shop" version 3' or 'repeatable migration
 *		"views" of component "shop"'.  Component and name are bounded (the
 *		name by the registry's check), so they are shown whole.
 */
char *
mig_subject(MigRunKind kind, const char *component, int64 version,
			const char *name)
{
	switch (kind)
	{
		case MIG_RUN_REPEAT:
			return psprintf(_("repeatable migration \"%s\" of component \"%s\""),
							name, component);
		case MIG_RUN_UNDO:
			return psprintf(_("undo of migration \"%s\" version " INT64_FORMAT),
							component, version);
		case MIG_RUN_APPLY:
			break;
	}
	return psprintf(_("migration \"%s\" version " INT64_FORMAT),
					component, version);
}

/* the subject at the start of a sentence */
char *
mig_subject_sentence(const char *subject)
{
	char	   *s = pstrdup(subject);

	s[0] = pg_toupper((unsigned char) s[0]);
	return s;
}
