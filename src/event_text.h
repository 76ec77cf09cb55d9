/*-------------------------------------------------------------------------
 *
 * event_text.h
 *	  The slate insert_events text parser (event_text.c), used by events_append.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVENT_TEXT_H
#define EVENT_TEXT_H

typedef struct EventTextRow
{
	int64		index;			/* n of $1[n] */
	bool		has_ts;			/* the row has its $2 */
	int			offset;			/* byte offset of the row in the string */
	char	   *json;			/* the literal's value, quotes undoubled */
} EventTextRow;

extern int	event_text_parse(const char *str, int len, EventTextRow **rows_out);

#endif							/* EVENT_TEXT_H */
