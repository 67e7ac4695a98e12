#!/usr/bin/env python3
"""docs/benchmarks.md from one `make bench` result dir (scripts/bench/run.sh).

usage: report.py RESULT_DIR COMMAND   (writes markdown to stdout)
Medians over the rounds; ratios are ordo's median over the peer's median from
the same run, and beside them the ratios within each round (the systems run
one after the other in a round, so a machine whose speed drifts through the
run moves these less). Without the peers' results (etcd.jsonl, nats.jsonl), ordo's
figures alone, and a note that the peers were not measured."""
import glob, json, os, re, statistics, sys


def lines(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip().startswith("{")]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def by_concurrency(rows):
    out = {}
    for r in rows:
        out.setdefault(r["concurrency"], []).append(r)
    return out


def within_rounds(ordo_rows, peer_rows):
    """ordo's ops/s over the peer's in each round (rows are in round order):
    "lowest-highest (median)"."""
    ratios = [o["ops_per_s"] / q["ops_per_s"] for o, q in zip(ordo_rows, peer_rows) if q.get("ops_per_s")]
    if not ratios:
        return "n/a"
    return f"{min(ratios):.2f}-{max(ratios):.2f}x ({med(ratios):.2f}x)"


def cpu_per_append_us(rows, key="server_cpu_cores"):
    """Median over the rounds of the CPU time per acknowledged append, in µs: the servers'
    (gobench's `server_cpu_cores`) or the load generator's own (`client_cpu_cores`)."""
    return med([r[key] / r["ops_per_s"] * 1e6 for r in rows
                if r.get(key) is not None and r.get("ops_per_s")])


def per_append_by_system(systems, names, key="server_cpu_cores"):
    """cpu_per_append_us for each system in `names` and each client count."""
    return {name: {c: cpu_per_append_us(rows, key) for c, rows in systems[name].items()} for name in names}


def at(table, c, names=("ordo", "etcd", "nats")):
    """The figures `table` holds for `c` clients, one per system in `names` (NaN where not measured)."""
    return tuple(table[name].get(c, float("nan")) for name in names)


def machine_limits(text):
    """machine_limits.sh's summary without the paths of the machine that ran it."""
    kept = [re.sub(r"^fio tests in \S+ ", "fio tests ", l) for l in text.strip().splitlines()
            if not l.startswith("results in ")]
    return "\n".join(kept)


def main():
    res, command = sys.argv[1], sys.argv[2]
    systems = {
        "ordo": by_concurrency(lines(f"{res}/ordo.jsonl")),
        "etcd": by_concurrency(lines(f"{res}/etcd.jsonl")),
        "nats": by_concurrency(lines(f"{res}/nats.jsonl")),
    }
    peers = bool(systems["etcd"] or systems["nats"])
    batch = lines(f"{res}/ordo_batch100.jsonl")
    loops = [json.loads(open(p).read()) for p in glob.glob(f"{res}/machine_limits/loop_fdatasync.*.json")]
    fsync_rate = med([l["ops_per_s"] for l in loops])
    limits = open(f"{res}/machine_limits.txt").read() if os.path.exists(f"{res}/machine_limits.txt") else None
    machine = f"this one {os.cpu_count()}-core machine"

    p = print
    p("# Benchmarks\n")
    if peers:
        p(f"Measured with `{command}` (`scripts/bench/run.sh`). ")
        p(f"Every system: 3 nodes on loopback on {machine}, every write fsynced on a majority before it is acknowledged "
          "(etcd by design, NATS JetStream R3 with `sync_interval: always`, ordo by design), the same closed-loop load generator "
          "(the peers' `gobench`: 100-byte values, clients on the leader, 1 s warm-up), each node given its share of the cores "
          "(the cores over the nodes, at least one: ordo's `--worker-threads`, the Go runtime's `GOMAXPROCS` for each etcd and "
          "NATS server; the load generator keeps every core), the rounds interleaved so that noise hits "
          "all systems alike. Figures are medians over the rounds; **read the ratios**, not the absolutes: the machine is shared "
          "and noisy, and the servers and the client share its cores.\n")
    else:
        p(f"Measured with `{command}` (`scripts/bench/run.sh`), **ordo alone**: the peers (etcd, NATS JetStream) were not "
          "measured in this run, so there are no ratios. To compare, run it again with `PEERS_DIR` pointing at the peers' "
          "scripts ([`development.md`](development.md#peers-etcd-and-nats-jetstream)).\n")
        p(f"3 nodes on loopback on {machine}, every write fsynced on a majority before it is acknowledged, a fresh cluster "
          "per round, the load from `ordo bench` (closed loop, 100-byte values, clients on the leader, 1 s warm-up). "
          "Figures are medians over the rounds; the servers and the client share the machine's cores.\n")
    p("## Appends of one 100-byte record\n")
    if peers:
        p("| clients | ordo ops/s (p50 ms) | etcd ops/s (p50 ms) | NATS ops/s (p50 ms) | ordo / etcd | ordo / NATS | ordo p50 / etcd p50 | ordo / etcd within each round | ordo / NATS within each round | per-round ordo ops/s | ordo max ms (worst round), errors |")
        p("|---|---|---|---|---|---|---|---|---|---|---|")
    else:
        p("| clients | ordo ops/s (p50 ms) | per-round ordo ops/s | ordo max ms (worst round), errors |")
        p("|---|---|---|---|")
    summary = {}
    names = ("ordo", "etcd", "nats") if peers else ("ordo",)
    for c in sorted(set().union(*[set(s) for s in systems.values()])):
        cells, m = [], {}
        for name in names:
            rows = systems[name].get(c, [])
            m[name] = (med([r["ops_per_s"] for r in rows]), med([r["p50_ms"] for r in rows]))
            cells.append(f"{m[name][0]:,.0f} ({m[name][1]:.2f})")
        summary[c] = m
        ordo_rows = systems["ordo"].get(c, [])
        rounds = " ".join(f"{r['ops_per_s']:,.0f}" for r in ordo_rows)
        worst = max([r["max_ms"] for r in ordo_rows], default=float("nan"))
        errors = sum(r["errors"] for r in ordo_rows)
        if peers:
            p(f"| {c} | {' | '.join(cells)} | {m['ordo'][0] / m['etcd'][0]:.2f}x | {m['ordo'][0] / m['nats'][0]:.2f}x "
              f"| {m['ordo'][1] / m['etcd'][1]:.2f}x "
              f"| {within_rounds(ordo_rows, systems['etcd'].get(c, []))} "
              f"| {within_rounds(ordo_rows, systems['nats'].get(c, []))} | {rounds} | {worst:,.0f}, {errors} |")
        else:
            p(f"| {c} | {cells[0]} | {rounds} | {worst:,.0f}, {errors} |")
    p("")
    cpu = per_append_by_system(systems, names)
    if peers:
        p("## Server CPU per durable append\n")
        p("The CPU time of all three nodes' server processes (gobench's `server_cpu_cores`) divided by the appends "
          "acknowledged, in µs, medians over the rounds: on a machine where every system saturates its cores, throughput "
          "is this cost.\n")
        p("| clients | ordo µs | etcd µs | NATS µs | ordo / NATS |")
        p("|---|---|---|---|---|")
        for c in sorted(summary):
            o, e, n = at(cpu, c)
            p(f"| {c} | {o:,.0f} | {e:,.0f} | {n:,.0f} | {o / n:.2f}x |")
        p("")
        client = per_append_by_system(systems, names, "client_cpu_cores")
        p("## The load generator's CPU per append\n")
        p("The same load generator speaks each system's own protocol (HTTP/1.1 to ordo, one connection per client; "
          "etcd's gRPC; the NATS protocol, every client on one connection), and its CPU per append "
          "(gobench's `client_cpu_cores` / appends/s, µs, medians over the rounds) comes out of the same cores the "
          "servers run on. Beside it, the servers' and the load generator's together.\n")
        p("| clients | ordo client µs | etcd client µs | NATS client µs | ordo servers + client µs | NATS servers + client µs | ordo / NATS, together |")
        p("|---|---|---|---|---|---|---|")
        for c in sorted(summary):
            o, e, n = at(client, c)
            servers_ordo, servers_nats = at(cpu, c, ("ordo", "nats"))
            ot, nt = servers_ordo + o, servers_nats + n
            p(f"| {c} | {o:,.0f} | {e:,.0f} | {n:,.0f} | {ot:,.0f} | {nt:,.0f} | {ot / nt:.2f}x |")
        p("")
    p("## Appends of 100 records of 100 bytes (`ordo bench --batch 100 -c 16`)\n")
    records = med([b["records_per_s"] for b in batch])
    if loops:
        p(f"{records:,.0f} records/s (median of {len(batch)}; p50 {med([b['p50_ms'] for b in batch]):.2f} ms); "
          f"the machine's small write+fdatasync rate in the same run: {fsync_rate:,.0f}/s, so {records / (fsync_rate * 100):.0%} "
          f"of (fsync rate x 100).\n")
    else:
        p(f"{records:,.0f} records/s (median of {len(batch)}; p50 {med([b['p50_ms'] for b in batch]):.2f} ms); "
          "the machine's fsync rate was not measured (the peers' `machine_limits.sh` does).\n")
    if peers:
        p("## Against the targets\n")
        p("ordo's performance targets, as ratios to its peers and to the machine's fsync rate:\n")
        p("| target | measured | met |")
        p("|---|---|---|")
        for c in (16, 64):
            if c in summary:
                o, e, n = summary[c]["ordo"][0], summary[c]["etcd"][0], summary[c]["nats"][0]
                p(f"| c={c}: >= 2.0x etcd, >= 1.2x NATS | {o / e:.2f}x etcd, {o / n:.2f}x NATS | {'yes' if o >= 2 * e and o >= 1.2 * n else 'no'} |")
        if 64 in summary:
            o, n = at(cpu, 64, ("ordo", "nats"))
            p(f"| c=64: server CPU per append <= NATS's | {o:,.0f} µs vs {n:,.0f} µs | {'yes' if o <= n else 'no'} |")
        if 1 in summary:
            r = summary[1]["ordo"][1] / summary[1]["etcd"][1]
            p(f"| c=1: p50 <= 1.5x etcd's | {r:.2f}x | {'yes' if r <= 1.5 else 'no'} |")
        if batch and loops:
            share = records / (fsync_rate * 100)
            p(f"| batches of 100: >= 50% of fsync rate x 100 | {share:.0%} | {'yes' if share >= 0.5 else 'no'} |")
    p(("\n" if peers else "") + "Where the time goes, and what would close the gap: [`performance.md`](performance.md).")
    if limits is not None:
        p("\n## The machine, in the same run (`machine_limits.sh`)\n")
        p("```")
        p(machine_limits(limits))
        p("```")


if __name__ == "__main__":
    main()
