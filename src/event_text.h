/*-------------------------------------------------------------------------
 *
 * event_text.h
 *	  The slate insert_events text parser (event_text.c), used by events_append.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVENT_TEXT_H
#define EVENT_TEXT_H

#include "lib/stringinfo.h"

typedef struct EventTextRow
{
	int64		index;			/* n of $1[n] */
	bool		has_ts;			/* the row has its $2 */
	int			offset;			/* byte offset of the row in the string */
	int			lit_start;		/* the JSON literal's text: byte offset, */
	int			lit_len;		/* and length, quotes still doubled */
} EventTextRow;

extern int	event_text_parse(const char *str, int len, EventTextRow **rows_out);
extern void event_text_literal(const char *str, const EventTextRow *row,
							   StringInfo buf);

#endif							/* EVENT_TEXT_H */
