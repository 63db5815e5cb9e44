"""The printed tables of ``capacity_bench``: capacity steps, held-chat memory, and the overload run."""

from __future__ import annotations

from typing import Any

from tools.benchmarks import results, stats


def print_overload(data: dict[str, Any]) -> None:
    o = data
    print(
        results.table(
            f"Overload only: MAX_IN_FLIGHT={o['max_in_flight']}, {o['offered_rps']} chats/s offered for "
            f"{o['options']['overload_seconds']} s, upstream delay {o['options']['delay']} s",
            [
                "goodput/s",
                "statuses",
                "503 kinds",
                "200 p50 ms",
                "200 p99 ms",
                "shed p99 ms",
                "dependency 503 p50 ms",
                "peak in flight",
            ],
            [
                [
                    o["goodput_rps"],
                    o["statuses"],
                    o["kinds_of_503"],
                    o["ok_latency_ms"]["p50"],
                    o["ok_latency_ms"]["p99"],
                    o["shed_only_latency_ms"]["p99"],
                    o["dependency_503_latency_ms"]["p50"],
                    o["peak_in_flight"],
                ]
            ],
        )
    )


def print_table(data: dict[str, Any]) -> None:
    opts = data["options"]
    rows = [
        [
            s["clients"],
            s["peak_in_flight"],
            s["goodput_rps"],
            s["ok_latency_ms"]["p50"],
            s["ok_latency_ms"]["p99"],
            s["statuses"],
            s["peak_rss_mib"],
            s["cpu_share"].get("worker"),
            s["cpu_share"].get("mongo"),
            "yes" if s["held"] else "no",
        ]
        for s in data["steps"]
    ]
    print(
        results.table(
            f"Capacity of one worker, upstream delay {opts['delay']} s (idle RSS {data['idle_rss_mib']} MiB)",
            [
                "clients",
                "in flight",
                "goodput/s",
                "p50 ms",
                "p99 ms",
                "statuses",
                "peak RSS MiB",
                "worker CPU",
                "SecantusDB CPU",
                "held",
            ],
            rows,
        )
    )
    per_chat = data["bytes_per_chat"]
    print(
        f"capacity {data['capacity']} chats in flight, peak goodput {data['peak_goodput_rps']}/s, "
        f"{'-' if per_chat is None else round(per_chat / 1024, 1)} KiB of worker RSS per held chat"
    )
    h = data.get("hold")
    if h:
        per = "-" if h["bytes_per_chat"] is None else round(h["bytes_per_chat"] / 1024, 1)
        print(
            results.table(
                f"Held at once: {h['chats']} chats behind a {h['delay_s']} s upstream (the worker's own limit)",
                [
                    "chats",
                    "peak in flight",
                    "statuses",
                    "p99 ms",
                    "idle RSS MiB",
                    "peak RSS MiB",
                    "KiB per chat",
                    "worker CPU ms/chat",
                ],
                [
                    [
                        h["chats"],
                        h["peak_in_flight"],
                        h["statuses"],
                        h["ok_latency_ms"]["p99"],
                        h["idle_rss_mib"],
                        h["peak_rss_mib"],
                        per,
                        h["worker_cpu_ms_per_chat"],
                    ]
                ],
            )
        )
    o = data.get("overload")
    if o:
        print(
            results.table(
                f"Overload: MAX_IN_FLIGHT={o['max_in_flight']}, arrivals at {opts['overload_factor']}x peak goodput",
                [
                    "offered/s",
                    "goodput/s",
                    "of peak",
                    "statuses",
                    "503 kinds",
                    "200 p99 ms",
                    "shed p50 ms",
                    "shed p99 ms",
                    "probe p99 ms",
                ],
                [
                    [
                        o["offered_rps"],
                        o["goodput_rps"],
                        stats.ratio(o["goodput_rps"], data["peak_goodput_rps"]),
                        o["statuses"],
                        o["kinds_of_503"],
                        o["ok_latency_ms"]["p99"],
                        o["shed_only_latency_ms"]["p50"],
                        o["shed_only_latency_ms"]["p99"],
                        o["probe_p99_ms"],
                    ]
                ],
            )
        )
