//! A long-lived claimant, as an MCP server per agent runs: opens the ledger once, then claims `N`
//! tasks one after another. `claim_loop DIR N AGENT`; prints how many it claimed. Used by
//! scripts/bench.sh to measure claims/s across 64 concurrent processes.

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: claim_loop DIR N AGENT";
    let dir = std::path::PathBuf::from(args.next().expect(usage));
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect(usage);
    let agent = args.next().expect(usage);
    let service = abathur::Service::open(&dir).expect("open the ledger");
    let mut claimed = 0;
    for _ in 0..n {
        let req = abathur::queue::api::ClaimRequest { agent: Some(agent.clone()), ..Default::default() };
        if service.task_claim(req).expect("claim").claimed {
            claimed += 1;
        }
    }
    println!("{claimed}");
}
