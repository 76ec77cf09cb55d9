/*-------------------------------------------------------------------------
 *
 * event_text.c
 *	  Parser for the slate insert_events argument: a list of
 *	  ($1[n], $2, '<json>') tuples separated by commas, exactly what slate
 *	  clients put after "INSERT INTO events (id, ts, event) VALUES ".
 *
 * The original EXECUTEd that string, so anything after the list ran as
 * SQL.  Here it is only ever parsed: the grammar is
 *
 *		list   := ws tuple (ws ',' ws tuple)* ws (';' ws)*
 *		tuple  := '(' ws '$1' ws '[' ws digits ws ']' ws ','
 *				  [ ws '$2' ws ',' ] ws literal ws ')'
 *		literal:= "'" ( any character but "'" | "''" )* "'"
 *
 * with ws the SQL whitespace characters and comments, and the list may
 * end with semicolons: slate ran those without effect.  The "$2" is
 * optional in the grammar only so that a row without it gets slate's own
 * error message; everything else (casts, E'' or dollar quotes, other
 * columns, function calls, a statement after a semicolon) is a syntax
 * error that names the position.
 * The slate validations (consecutive indexes from 1, one "$2" per row) are
 * applied afterwards with slate's message texts, since clients match on
 * them.  Placeholders inside the JSON literal are data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/parser.h"
#include "utils/builtins.h"

#include "compat.h"
#include "event_text.h"

/* slate's RAISE EXCEPTION has SQLSTATE P0001 */
#define SLATE_ERRCODE ERRCODE_RAISE_EXCEPTION

/* row indexes beyond this cannot be valid (and could overflow) */
#define MAX_INDEX_DIGITS 9

typedef struct ParseState
{
	const char *str;
	int			len;
	int			pos;
} ParseState;

sm_noreturn static void syntax_error(ParseState *ps, const char *expected);

static inline bool
is_sql_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/*
 * Skip white space and SQL comments ("--" to the end of the line, and
 * C-style comments, which nest as in PostgreSQL): slate EXECUTEd the list,
 * so they were inert there and are accepted here.
 */
static void
skip_ws(ParseState *ps)
{
	for (;;)
	{
		/* a list may be little but comments: once per run of them */
		CHECK_FOR_INTERRUPTS();
		while (ps->pos < ps->len && is_sql_space(ps->str[ps->pos]))
			ps->pos++;
		if (ps->len - ps->pos >= 2 && ps->str[ps->pos] == '-' &&
			ps->str[ps->pos + 1] == '-')
		{
			while (ps->pos < ps->len && ps->str[ps->pos] != '\n' &&
				   ps->str[ps->pos] != '\r')
				ps->pos++;
		}
		else if (ps->len - ps->pos >= 2 && ps->str[ps->pos] == '/' &&
				 ps->str[ps->pos + 1] == '*')
		{
			int			start = ps->pos;
			int			depth = 0;

			do
			{
				CHECK_FOR_INTERRUPTS();
				if (ps->len - ps->pos >= 2 && ps->str[ps->pos] == '/' &&
					ps->str[ps->pos + 1] == '*')
				{
					depth++;
					ps->pos += 2;
				}
				else if (ps->len - ps->pos >= 2 && ps->str[ps->pos] == '*' &&
						 ps->str[ps->pos + 1] == '/')
				{
					depth--;
					ps->pos += 2;
				}
				else if (ps->pos < ps->len)
					ps->pos++;
				else
				{
					ps->pos = start;
					ereport(ERROR,
							(errcode(ERRCODE_SYNTAX_ERROR),
							 errmsg("unterminated comment in event list at position %d",
									pg_mbstrlen_with_len(ps->str, start) + 1),
							 errhint("The event list must be ($1[n], $2, '<json>') tuples separated by commas, and nothing else.")));
				}
			} while (depth > 0);
		}
		else
			return;
	}
}

/*
 * Report a syntax error at the current position: what was expected, what
 * was found (a short, encoding-safe excerpt), and the 1-based character
 * position in the string.
 */
static void
syntax_error(ParseState *ps, const char *expected)
{
	int			charpos = pg_mbstrlen_with_len(ps->str, ps->pos) + 1;

	if (ps->pos >= ps->len)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error at end of event list"),
				 errdetail("Expected %s at position %d.", expected, charpos),
				 errhint("The event list must be ($1[n], $2, '<json>') tuples separated by commas, and nothing else.")));
	else
	{
		int			n = pg_mbcliplen(ps->str + ps->pos, ps->len - ps->pos, 12);
		StringInfoData found;
		int			i;

		/* show control characters as \xNN rather than raw */
		initStringInfo(&found);
		for (i = 0; i < n; i++)
		{
			unsigned char c = (unsigned char) ps->str[ps->pos + i];

			if (c < 0x20 || c == 0x7f)
				appendStringInfo(&found, "\\x%02x", c);
			else
				appendStringInfoChar(&found, (char) c);
		}
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("syntax error in event list at position %d", charpos),
				 errdetail("Expected %s but found \"%s\".", expected, found.data),
				 errhint("The event list must be ($1[n], $2, '<json>') tuples separated by commas, and nothing else.")));
	}
}

static inline bool
accept(ParseState *ps, const char *tok)
{
	int			n = strlen(tok);

	if (ps->len - ps->pos >= n && memcmp(ps->str + ps->pos, tok, n) == 0)
	{
		ps->pos += n;
		return true;
	}
	return false;
}

static inline void
expect(ParseState *ps, const char *tok, const char *what)
{
	skip_ws(ps);
	if (!accept(ps, tok))
		syntax_error(ps, what);
}

/*
 * The id placeholder's index: 1 to MAX_INDEX_DIGITS decimal digits.
 */
static int64
parse_index(ParseState *ps)
{
	int			start;
	int64		val = 0;

	skip_ws(ps);
	start = ps->pos;
	while (ps->pos < ps->len && ps->str[ps->pos] >= '0' && ps->str[ps->pos] <= '9')
	{
		if (ps->pos - start >= MAX_INDEX_DIGITS)
		{
			int			end = ps->pos;

			while (end < ps->len && end - start < 40 &&
				   ps->str[end] >= '0' && ps->str[end] <= '9')
				end++;
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("row index %s is out of range",
							pnstrdup(ps->str + start, end - start)),
					 errdetail("Row indexes count the rows of the list from 1.")));
		}
		val = val * 10 + (ps->str[ps->pos] - '0');
		ps->pos++;
	}
	if (ps->pos == start)
		syntax_error(ps, "a row index");
	return val;
}

/*
 * A standard SQL string literal: finds its end and remembers where its text
 * is (row->lit_start, row->lit_len, quotes still doubled); the value is
 * made by event_text_literal when it is needed, so the parse keeps nothing
 * per row but a few numbers.  Backslashes are ordinary characters, as
 * they are for the original's EXECUTE with standard_conforming_strings on
 * (the default); with it off the original would have read escapes, so
 * refuse rather than store something different.
 */
static void
parse_literal(ParseState *ps, EventTextRow *row)
{
	int			start;

	skip_ws(ps);
	if (ps->pos >= ps->len || ps->str[ps->pos] != '\'')
		syntax_error(ps, "a quoted JSON literal");
	start = ps->pos;
	ps->pos++;
	for (;;)
	{
		const char *q;

		/* once per doubled quote, of which a literal may be made */
		CHECK_FOR_INTERRUPTS();
		q = memchr(ps->str + ps->pos, '\'', ps->len - ps->pos);
		if (q == NULL)
		{
			ps->pos = start;
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("unterminated quoted string in event list at position %d",
							pg_mbstrlen_with_len(ps->str, start) + 1),
					 errhint("Single quotes inside the JSON text must be doubled.")));
		}
		if (!sm_standard_conforming_strings &&
			memchr(ps->str + ps->pos, '\\', q - (ps->str + ps->pos)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("backslash in event list while standard_conforming_strings is off"),
					 errhint("Set standard_conforming_strings to on.")));
		ps->pos = (q - ps->str) + 1;	/* past the quote */
		if (ps->pos < ps->len && ps->str[ps->pos] == '\'')
		{
			ps->pos++;			/* a doubled quote */
			continue;
		}
		break;
	}
	row->lit_start = start + 1;
	row->lit_len = ps->pos - 1 - row->lit_start;
}

/*
 * event_text_literal
 *		The value of a row's JSON literal (doubled quotes undone), in buf,
 *		which is reset first.
 */
void
event_text_literal(const char *str, const EventTextRow *row, StringInfo buf)
{
	const char *p = str + row->lit_start;
	const char *end = p + row->lit_len;

	resetStringInfo(buf);
	while (p < end)
	{
		const char *q;

		CHECK_FOR_INTERRUPTS();
		q = memchr(p, '\'', end - p);
		if (q == NULL)
		{
			appendBinaryStringInfo(buf, p, end - p);
			break;
		}
		appendBinaryStringInfo(buf, p, q - p + 1);
		p = q + 2;				/* the quote, and its double */
	}
}

/*
 * event_text_parse
 *		Parse str (len bytes) into *rows_out; returns the number of rows.
 *		Raises a syntax error for anything that is not the tuple list, then
 *		the slate validation errors.  Nothing has been written when it
 *		raises.
 */
int
event_text_parse(const char *str, int len, EventTextRow **rows_out)
{
	ParseState	ps;
	EventTextRow *rows;
	int			nrows = 0;
	int			maxrows = 16;
	int			nts = 0;
	int			i;

	ps.str = str;
	ps.len = len;
	ps.pos = 0;
	rows = palloc(sizeof(EventTextRow) * maxrows);

	skip_ws(&ps);
	while (ps.pos < ps.len)
	{
		EventTextRow *row;

		CHECK_FOR_INTERRUPTS();
		if (nrows > 0)
		{
			/* trailing semicolons end the list, as they ended slate's INSERT */
			if (ps.str[ps.pos] == ';')
			{
				while (ps.pos < ps.len && ps.str[ps.pos] == ';')
				{
					ps.pos++;
					skip_ws(&ps);
				}
				if (ps.pos < ps.len)
					syntax_error(&ps, "the end of the list after \";\"");
				break;
			}
			expect(&ps, ",", "\",\" or the end of the list");
			skip_ws(&ps);
		}
		if (nrows == maxrows)
		{
			maxrows *= 2;
			rows = repalloc_huge(rows, sizeof(EventTextRow) * maxrows);
		}
		row = &rows[nrows];
		row->offset = ps.pos;

		expect(&ps, "(", "\"(\"");
		expect(&ps, "$1", "\"$1[n]\"");
		/* "$1" must not be the start of "$10" */
		if (ps.pos < ps.len && ps.str[ps.pos] >= '0' && ps.str[ps.pos] <= '9')
			syntax_error(&ps, "\"[\"");
		expect(&ps, "[", "\"[\"");
		row->index = parse_index(&ps);
		expect(&ps, "]", "\"]\"");
		expect(&ps, ",", "\",\"");
		skip_ws(&ps);
		row->has_ts = false;
		if (accept(&ps, "$2"))
		{
			if (ps.pos < ps.len && ps.str[ps.pos] >= '0' && ps.str[ps.pos] <= '9')
			{
				ps.pos -= 2;
				syntax_error(&ps, "\"$2\" or a quoted JSON literal");
			}
			row->has_ts = true;
			nts++;
			expect(&ps, ",", "\",\"");
		}
		parse_literal(&ps, row);
		expect(&ps, ")", "\")\"");
		nrows++;
		skip_ws(&ps);
	}

	/* slate's validations, in slate's order, with slate's texts */
	for (i = 1; i < nrows; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (rows[i].index != rows[i - 1].index + 1)
			ereport(ERROR,
					(errcode(SLATE_ERRCODE),
					 errmsg("Parameter index is not consecutive at ------> " INT64_FORMAT ", previous index ------> " INT64_FORMAT,
							rows[i].index, rows[i - 1].index),
					 errhint("Parameter for id column of the form \"$1[x]\" where x is the 1-based index for the row to be inserted is not greater than the previous row's index")));
	}
	if (nrows < 1)
		ereport(ERROR,
				(errcode(SLATE_ERRCODE),
				 errmsg("No inserted rows found with id substitution parameters"),
				 errhint("id column substitution parameter value for row to be inserted must be of the form \"$1[x]\" where x is the 1-indexed based index of the row")));
	if (rows[nrows - 1].index != nrows)
		ereport(ERROR,
				(errcode(SLATE_ERRCODE),
				 errmsg("Number of rows to be inserted (%d) does not match the highest row index (" INT64_FORMAT ")",
						nrows, rows[nrows - 1].index),
				 errhint("The highest id column parameter substitution parameter index value does not match the number of rows to be inserted")));
	if (nts != nrows)
		ereport(ERROR,
				(errcode(SLATE_ERRCODE),
				 errmsg("Number of rows to be inserted (%d) does not match number of rows with a ts substitution parameter (%d)",
						nrows, nts),
				 errhint("ts column parameter substitution value for row to be inserted must be \"$2\"")));

	*rows_out = rows;
	return nrows;
}
