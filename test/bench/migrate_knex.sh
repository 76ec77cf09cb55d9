#!/usr/bin/env bash
# ----------------------------------------------------------------------
# test/bench/migrate_knex.sh -- schema_mgr against Knex's migrate:latest on
# the same server in the same run: 500 migrations that each create a
# table and an index, then the no-op (nothing pending).
# Run through test/bench/run.sh (PGHOST, PGPORT, WORK set).  Installs the
# npm packages knex and pg into $WORK only.
#
# Timing: schema_mgr's apply is one psql call of apply_migrations() (the
# migrations are registered beforehand, as install scripts or the loader
# do; registering is timed separately).  Knex is timed inside node around
# knex.migrate.latest(), so node's start-up and module loading are not
# counted against it.  No-ops are averaged over repeated calls, both
# measured from the client.
# ----------------------------------------------------------------------
set -euo pipefail
N=${N:-500}
NOOP_RUNS=${NOOP_RUNS:-20}
ROUNDS=${ROUNDS:-3}
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

ms_now() { date +%s%N | cut -c1-13; }

# ---------------------------------------------------------------- knex
KDIR=$WORK/knex
mkdir -p "$KDIR/migrations"
(cd "$KDIR" && npm_config_cache="$WORK/npm-cache" npm init -y >/dev/null &&
    npm_config_cache="$WORK/npm-cache" npm install --silent --no-audit --no-fund \
        knex pg >/dev/null) || { echo "npm install knex pg failed" >&2; exit 1; }
for i in $(seq 1 $N); do
    f=$(printf '%s/migrations/%05d_create_t%d.js' "$KDIR" "$i" "$i")
    cat >"$f" <<JS
exports.up = async function (knex) {
  await knex.raw('CREATE TABLE bench_t$i (id bigserial PRIMARY KEY, name text, created_at timestamptz DEFAULT now())');
  await knex.raw('CREATE INDEX bench_t${i}_name ON bench_t$i (name)');
};
exports.down = async function (knex) {
  await knex.raw('DROP TABLE bench_t$i');
};
JS
done
cat >"$KDIR/bench.js" <<'JS'
const knex = require('knex')({
  client: 'pg',
  connection: { host: process.env.PGHOST, port: +process.env.PGPORT,
                database: 'bench_knex', user: process.env.PGUSER || require('os').userInfo().username },
  migrations: { directory: __dirname + '/migrations' },
  pool: { min: 1, max: 2 },
});
(async () => {
  const runs = +process.argv[2];
  let t = process.hrtime.bigint();
  const [, applied] = await knex.migrate.latest();
  const apply = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await knex.migrate.latest();
  const noop = Number(process.hrtime.bigint() - t) / 1e6 / runs;
  console.log(`${applied.length} ${apply.toFixed(1)} ${noop.toFixed(2)}`);
  await knex.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
JS

# Several rounds, alternating the tools on fresh databases; the median
# round counts (DDL timings on a shared machine are noisy).
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: >"$WORK/knex_apply"; : >"$WORK/knex_noop"; : >"$WORK/sm_apply"; : >"$WORK/sm_register"
echo "SET client_min_messages = warning; SELECT apply_migrations();" >"$WORK/noop.sql"
for round in $(seq 1 "$ROUNDS"); do
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS bench_knex" \
        -c "CREATE DATABASE bench_knex" 2>/dev/null
    read -r knex_n knex_apply knex_noop < <(node "$KDIR/bench.js" "$NOOP_RUNS")
    echo "$knex_apply" >>"$WORK/knex_apply"
    echo "$knex_noop" >>"$WORK/knex_noop"

    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS bench_sm" \
        -c "CREATE DATABASE bench_sm" 2>/dev/null
    "${PSQL[@]}" -d bench_sm -c "CREATE EXTENSION schema_mgr"
    t0=$(ms_now)
    "${PSQL[@]}" -d bench_sm -At >/dev/null <<SQL
SELECT count(register_migration('bench', i, 'create t' || i,
    format('CREATE TABLE bench_t%s (id bigserial PRIMARY KEY, name text, created_at timestamptz DEFAULT now());
CREATE INDEX bench_t%s_name ON bench_t%s (name);', i, i, i)))
FROM generate_series(1, $N) AS i;
SQL
    echo $(( $(ms_now) - t0 )) >>"$WORK/sm_register"
    t0=$(ms_now)
    sm_n=$("${PSQL[@]}" -d bench_sm -At -c "SELECT count(*) FROM apply_migrations()")
    echo $(( $(ms_now) - t0 )) >>"$WORK/sm_apply"
    echo "round $round: apply schema_mgr $(tail -1 "$WORK/sm_apply") ms, knex $knex_apply ms"
done
knex_apply=$(median <"$WORK/knex_apply")
knex_noop=$(median <"$WORK/knex_noop")
sm_apply=$(median <"$WORK/sm_apply")
sm_register=$(median <"$WORK/sm_register")
sm_noop=$(pgbench -n -t 2000 -f "$WORK/noop.sql" bench_sm 2>/dev/null |
    sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')

# the two schemas must be the same
d1=$(psql -X -At -d bench_sm -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'bench_t%'")
d2=$(psql -X -At -d bench_knex -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'bench_t%'")

echo "migrations: $N (each CREATE TABLE + CREATE INDEX); objects created: schema_mgr $d1, knex $d2"
echo "median of $ROUNDS rounds:"
printf '%-28s %12s %12s %8s\n' '' schema_mgr knex ratio
printf '%-28s %12s %12s %8s\n' "apply $N (ms)" "$sm_apply" "$knex_apply" \
    "$(awk "BEGIN { printf \"%.1fx\", $knex_apply / $sm_apply }")"
printf '%-28s %12s %12s %8s\n' "no-op (ms per call)" "$sm_noop" "$knex_noop" \
    "$(awk "BEGIN { printf \"%.1fx\", $knex_noop / $sm_noop }")"
echo "(schema_mgr registering the $N migrations beforehand: $sm_register ms; applied $sm_n, knex applied $knex_n)"
