# ----------------------------------------------------------------------
# Makefile for schema_mgr (PGXS)
#
# The install script schema_mgr--$(EXTVERSION).sql is assembled from one
# SQL file per concern in src/, next to the C file that implements it.
# Tests are discovered: sql/*.sql (pg_regress), test/isolation/specs/*.spec
# (pg_isolation_regress) and test/t/*.pl (TAP).  Run them all with
# test/run_tests.sh, which also sets up a throwaway cluster.
# ----------------------------------------------------------------------

EXTENSION  = schema_mgr
EXTVERSION = 1.0

MODULE_big = schema_mgr
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# Install script: the parts, in dependency order.
SQL_PARTS  = $(wildcard src/schema_mgr.sql src/migrate.sql src/events.sql src/restore.sql)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA       = $(wildcard $(EXTENSION)--*--*.sql)
SCRIPTS    = bin/schema_mgr_load_dir
EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql

REGRESS        = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation
TAP_TESTS      = 1
PROVE_TESTS    = $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS    = -I test/t

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
              -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

$(OBJS): src/schema_mgr.h src/remote.h src/event_text.h
