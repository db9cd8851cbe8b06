# globalkv top-level Makefile (PGXS).
#
#   make && make install     build and install the extension, client library and CLI
#   make test                everything: installs Debian packages when run as root,
#                            builds, installs, runs regression, isolation, TAP and unit
#                            tests as an unprivileged user; ends with "N passed, N failed"
#   make demo                the main job: a local node (later: parade) and a demo workload
#   make bench               the benchmark driver in bench/ (see bench/README.md)

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config

MODULE_big = globalkv
EXTENSION = globalkv
# install and upgrade scripts, assembled from sql/ (rule below, sql/README.md)
DATA_built = $(patsubst sql/%,build/sql/%,$(wildcard sql/globalkv--*.sql))
EXTRA_CLEAN = build/sql

OBJS = \
	src/globalkv.o \
	src/guc.o \
	src/clock/hlc.o \
	src/commands/api.o \
	src/commands/changes.o \
	src/commands/consistency.o \
	src/commands/load.o \
	src/commands/scan.o \
	src/common/gkv_hash.o \
	src/connection/connection_cache.o \
	src/connection/remote.o \
	src/distributed/docs_ddl.o \
	src/distributed/docs_explain.o \
	src/distributed/docs_fanout.o \
	src/distributed/docs_planner.o \
	src/expiry/expiry_worker.o \
	src/expiry/tombstone_purge.o \
	src/metadata/catalog_cache.o \
	src/metrics/stats.o \
	src/monitoring/metrics_server.o \
	src/monitoring/metrics_text.o \
	src/operations/anti_entropy.o \
	src/operations/move_status.o \
	src/operations/repair_worker.o \
	src/operations/shard_move.o \
	src/replication/apply_worker.o \
	src/replication/catalog_sync.o \
	src/replication/change_wait.o \
	src/replication/conflict_journal.o \
	src/replication/coverage.o \
	src/replication/fence.o \
	src/replication/launcher.o \
	src/replication/peer_status.o \
	src/replication/pull.o \
	src/replication/repair.o \
	src/routing/router.o \
	src/storage/document.o \
	src/storage/housekeeping.o \
	src/storage/keyspace.o \
	src/storage/shard_store.o \
	src/utils/background.o \
	src/utils/extension_version.o

# the SQL version this library is built for: globalkv.control's default_version
GKV_SQL_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" globalkv.control)
PG_CPPFLAGS = -DGKV_SQL_VERSION='"$(GKV_SQL_VERSION)"' -I$(srcdir)/src/include -I$(srcdir)/src/common -I$(shell $(PG_CONFIG) --includedir)
PG_CFLAGS = -std=gnu11 -Wall -Wmissing-prototypes -Werror=implicit-function-declaration
SHLIB_LINK += -lpq

# Regression and isolation suites run against a self-contained temporary
# instance (PGXS "make check" silently tests nothing for extensions).
REGRESS_OPTS = --inputdir=test/regress --outputdir=test/regress/output \
	--temp-instance=test/regress/tmp_instance \
	--temp-config=test/regress/globalkv.conf --load-extension=globalkv
REGRESS = $(shell sed -n 's/^test: //p' test/regress/schedule)
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation/output \
	--temp-instance=test/isolation/tmp_instance \
	--temp-config=test/regress/globalkv.conf --load-extension=globalkv
ISOLATION = $(shell sed -n 's/^test: //p' test/isolation/schedule)

# no LLVM bitcode: nothing here benefits from JIT inlining, and it needs clang
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies: every object depends on them
$(OBJS): $(wildcard src/include/globalkv/*.h src/common/*.h src/replication/*.h)
src/utils/extension_version.o: globalkv.control

# the CLI is built and installed with the extension
all: cli/globalkv
.PHONY: client-lib
client-lib:
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG)
cli/globalkv: client-lib $(wildcard cli/*.c cli/*.h)
	$(MAKE) -C cli PG_CONFIG=$(PG_CONFIG)
install: install-cli
.PHONY: install-cli
install-cli: cli/globalkv
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG) install
	$(MAKE) -C cli PG_CONFIG=$(PG_CONFIG) install

.PHONY: test demo bench
test:
	bash test/run_all.sh

demo:
	bash scripts/demo.sh

bench:
	bash bench/run.sh

# sql/globalkv--*.sql are sources: sql/assemble.awk replaces each line
# `#include "udfs/<function>/<version>.sql"` by that file, copying the rest
# byte for byte, and records what it read in build/sql/.deps; then
# sql/check.sh holds the tree to sql/README.md's rules (latest.sql equals the
# highest version, released scripts never change) or fails the build
build/sql/%.sql: sql/%.sql sql/assemble.awk
	@mkdir -p build/sql/.deps
	awk -v target=$@ -v depfile=build/sql/.deps/$*.d -f sql/assemble.awk $< >$@.tmp
	mv $@.tmp $@
-include $(wildcard build/sql/.deps/*.d)
all: build/sql/.checked
build/sql/.checked: $(DATA_built) sql/check.sh sql/released.sha256 \
		$(wildcard sql/udfs/*/*.sql sql/views/*/*.sql)
	sh sql/check.sh build/sql
	@touch $@
