"""AMM experiments: fee-design sweeps from TOML specs."""
