import json, shutil
from pathlib import Path
from benchmarks import profiling, wrk
from benchmarks.conversation import MESSAGES, SEND_PATH
from benchmarks.profile_bench import under_load, CHAT_FRAMES
from benchmarks.servers import BenchStack, worker_pid
with BenchStack() as stack:
    mongo, redis = stack.mongo(), stack.redis()
    server = stack.service(mongo, redis)
    chat = wrk.chat_script(stack.root, SEND_PATH, MESSAGES)
    out = under_load(server, worker_pid(server), SEND_PATH, chat, stack.root / "chat.txt", seconds=10, connections=16, inclusive=CHAT_FRAMES)
    shutil.copy(stack.root / "chat.txt", "/tmp/i14chat/chat-raw.txt")
    print(json.dumps({k: out[k] for k in ("cpu_us_per_request", "user_us_per_request", "system_us_per_request", "answered")}))
    s = profiling.summarize(Path("/tmp/i14chat/chat-raw.txt"), top=70, inclusive=CHAT_FRAMES)
    user = out["user_us_per_request"]
    for fn, pct in s["self_by_function_pct"].items():
        print(round(pct * user / 100), fn)
