//! OPA's deprecated built-ins that Gatekeeper library templates still call
//! (`any`, `all`, `re_match`, `set_diff`, `cast_array`, `cast_set`), registered as
//! regorus extensions so those templates run unchanged.

use std::collections::BTreeSet;

use anyhow::{anyhow, bail};
use regorus::Value;

const MAX_REGEX_BYTES: usize = 1 << 20;

fn items(v: &Value) -> anyhow::Result<Vec<Value>> {
    match v {
        Value::Array(_) => Ok(v.as_array()?.iter().cloned().collect()),
        Value::Set(_) => Ok(v.as_set()?.iter().cloned().collect()),
        _ => bail!("operand must be an array or a set"),
    }
}

fn one(args: &[Value], name: &str) -> anyhow::Result<Value> {
    args.first()
        .cloned()
        .ok_or_else(|| anyhow!("{name}: missing argument"))
}

pub(crate) fn register(engine: &mut regorus::Engine) -> anyhow::Result<()> {
    engine.add_extension(
        "any".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let all = items(&one(&args, "any")?)?;
            Ok(Value::Bool(all.contains(&Value::Bool(true))))
        }),
    )?;
    engine.add_extension(
        "all".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let all = items(&one(&args, "all")?)?;
            Ok(Value::Bool(all.iter().all(|v| *v == Value::Bool(true))))
        }),
    )?;
    engine.add_extension(
        "re_match".into(),
        2,
        Box::new(|args: Vec<Value>| {
            let (Some(p), Some(s)) = (args.first(), args.get(1)) else {
                bail!("re_match: expects pattern and value");
            };
            let re = regex::RegexBuilder::new(p.as_string()?)
                .size_limit(MAX_REGEX_BYTES)
                .build()
                .map_err(|e| anyhow!("re_match: {e}"))?;
            Ok(Value::Bool(re.is_match(s.as_string()?)))
        }),
    )?;
    engine.add_extension(
        "set_diff".into(),
        2,
        Box::new(|args: Vec<Value>| {
            let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                bail!("set_diff: expects two sets");
            };
            let b: BTreeSet<Value> = b.as_set()?.iter().cloned().collect();
            let out: BTreeSet<Value> = a
                .as_set()?
                .iter()
                .filter(|v| !b.contains(v))
                .cloned()
                .collect();
            Ok(Value::from(out))
        }),
    )?;
    engine.add_extension(
        "cast_array".into(),
        1,
        Box::new(|args: Vec<Value>| Ok(Value::from(items(&one(&args, "cast_array")?)?))),
    )?;
    engine.add_extension(
        "cast_set".into(),
        1,
        Box::new(|args: Vec<Value>| {
            let s: BTreeSet<Value> = items(&one(&args, "cast_set")?)?.into_iter().collect();
            Ok(Value::from(s))
        }),
    )?;
    Ok(())
}
