//! (c) `MeterValue::energy_wh` on arbitrary sampled values: no panic, `None` or non-negative Wh.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use csms_fuzz::messages::{MeterValue, SampledValue};
use libfuzzer_sys::fuzz_target;

/// A sampled value biased towards the energy register: numeric-looking values in Wh or kWh.
#[derive(Debug)]
struct Sample(SampledValue);

impl<'a> Arbitrary<'a> for Sample {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        fn pick(u: &mut Unstructured, common: &[&str]) -> Result<Option<String>> {
            Ok(match u.int_in_range(0..=7)? {
                0 => None,
                1 => Some(u.arbitrary()?),
                _ => Some(u.choose(common)?.to_string()),
            })
        }
        let value = match u.int_in_range(0..=3)? {
            0 => u.arbitrary::<String>()?,
            1 => u.arbitrary::<f64>()?.to_string(),
            _ => numeric(u)?,
        };
        Ok(Sample(SampledValue {
            value,
            context: pick(u, &["Sample.Periodic", "Transaction.End"])?,
            format: pick(u, &["Raw", "SignedData"])?,
            measurand: pick(
                u,
                &[
                    "Energy.Active.Import.Register",
                    "Energy.Active.Export.Register",
                    "Voltage",
                ],
            )?,
            phase: pick(u, &["L1", "L2", "L3", "L1-N", "L2-N", "L3-N", "N", "L1-L2"])?,
            location: pick(u, &["Outlet", "EV", "Inlet"])?,
            unit: pick(u, &["Wh", "kWh", "varh", "W"])?,
        }))
    }
}

/// Text that `f64::from_str` may or may not accept: signs, exponents, inf/NaN, padding.
fn numeric(u: &mut Unstructured) -> Result<String> {
    const PIECES: &[&str] = &[
        "0",
        "1",
        "9",
        "42",
        "1234.5",
        ".",
        "-",
        "+",
        "e",
        "E",
        "308",
        "309",
        "-324",
        " ",
        "\t",
        "inf",
        "NaN",
        "infinity",
        "9223372036854775807",
        "9223372036854775.808",
        "0x10",
        "_",
        "1e",
    ];
    let n = u.int_in_range(1..=6)?;
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(u.choose(PIECES)?);
    }
    Ok(s)
}

fuzz_target!(|input: (String, Vec<Sample>)| {
    let (timestamp, samples) = input;
    let mv = MeterValue {
        timestamp,
        sampled_value: samples.into_iter().map(|s| s.0).collect(),
    };
    csms_fuzz::check_energy(&mv);
});
