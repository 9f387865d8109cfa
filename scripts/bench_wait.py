"""Wake-up latency of a waiting claim (`task claim --wait`): from the moment `task add` returns in
another process to the moment the waiting claim returns with that task. Usage: bench_wait.py BIN DIR [ROUNDS]"""
import os, statistics, subprocess, sys, time

bin_, repo = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
env = dict(os.environ, ABATHUR_DEBUG_CACHE="1")
latencies = []
for i in range(rounds):
    waiter = subprocess.Popen([bin_, "-q", "task", "claim", "--wait", "30s", "--agent", f"w{i}"], cwd=repo, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in waiter.stderr:
        if "waiting for the ledger to change" in line:
            break
    subprocess.run([bin_, "-q", "task", "add", f"work {i}"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    added = time.monotonic()
    waiter.wait()
    latencies.append((time.monotonic() - added) * 1000)
latencies.sort()
print(f"Wake-up of a waiting claim ({rounds} rounds): median **{statistics.median(latencies):.1f} ms** "
      f"(min {latencies[0]:.1f}, max {latencies[-1]:.1f}) from `task add` returning to the claim returning with it")
