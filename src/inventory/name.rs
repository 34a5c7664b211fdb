//! Names of nodes, services and probes. They are joined into keys like
//! `node/service/probe` and shown on terminals, so a `/` or a control
//! character in one would make two things look alike or garble a line.

pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
        Err("names may not be empty or contain `/` or control characters".into())
    } else {
        Ok(())
    }
}
