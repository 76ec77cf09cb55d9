# ----------------------------------------------------------------------
# Makefile for schema_mgr (PGXS)
#
# Install and upgrade scripts are at the top level, as in contrib:
# schema_mgr--1.0.sql is the released 1.0 and never changes (test/sh/
# checks its checksum); every later change to SQL objects goes into the
# next upgrade script, and CREATE EXTENSION runs 1.0 and then the upgrades.
# Tests are discovered: sql/*.sql (pg_regress), test/isolation/specs/*.spec
# (pg_isolation_regress) and test/t/*.pl (TAP).  Run them all with
# test/run_tests.sh, which also sets up a throwaway cluster.
# ----------------------------------------------------------------------

EXTENSION  = schema_mgr

MODULE_big = schema_mgr
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

DATA       = $(EXTENSION)--1.0.sql $(wildcard $(EXTENSION)--*--*.sql)
SCRIPTS    = bin/schema_mgr_load_dir

REGRESS        = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
ISOLATION      = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation
# the tests need UTF-8 databases whatever the caller's locale ("C" on many
# a fresh machine, whose clusters are SQL_ASCII)
REGRESS_OPTS   = --encoding=UTF8
TAP_TESTS      = 1
PROVE_TESTS    = $(sort $(wildcard test/t/*.pl))

PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
SHLIB_LINK_INTERNAL = $(libpq)
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
              -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The TAP tests' shared module (test/t/SchemaMgrTest.pm).  Added after PGXS,
# which sets PG_PROVE_FLAGS and empties PROVE_FLAGS, and not to PROVE_FLAGS,
# which callers set on the command line (PROVE_FLAGS=--verbose).  prove runs
# in the source directory.
PG_PROVE_FLAGS += -I test/t

# The TAP tests' clusters take their encoding from LC_CTYPE (the test
# framework clears LC_ALL): UTF8 in every locale.
installcheck: export LC_CTYPE = C.UTF-8

$(OBJS): src/schema_mgr.h src/compat.h src/remote.h src/event_text.h src/events.h src/migrate.h
