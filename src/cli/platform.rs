//! `wxscript platform export|import`: the backup of the platform's authorizers and their
//! refresh tokens (the one credential WeChat never hands out again), as an owner-only JSON file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Failure, PlatformAction, Session, SessionOptions};
use crate::store::Authorizer;

/// The export file.
#[derive(Serialize, Deserialize)]
struct Backup {
    component_appid: String,
    /// Unix seconds.
    exported_at: u64,
    authorizers: Vec<Authorizer>,
}

pub fn run(action: PlatformAction) -> Result<(), Failure> {
    let session = Session::start(&SessionOptions { quiet: true, ..SessionOptions::default() })?;
    let client = session.ctx.client.clone();
    let Some(component) = client.platform_appid().map(str::to_string) else {
        return Err(Failure::usage(
            "no third-party platform is configured: add [platform] (component_appid, component_appsecret) to the config file",
        ));
    };
    let result = match action {
        PlatformAction::Export { file } => session.rt.block_on(export(&client, &component, &file)),
        PlatformAction::Import { file } => session.rt.block_on(import(&client, &component, &file)),
    };
    session.close();
    result
}

async fn export(client: &crate::transport::Client, component: &str, file: &Path) -> Result<(), Failure> {
    let mut authorizers = client.stored_authorizers().await.map_err(|e| Failure::runtime(e.errmsg))?;
    // A used authorization code is of no use in a backup.
    for a in &mut authorizers {
        a.auth_code.clear();
    }
    let backup = Backup { component_appid: component.to_string(), exported_at: crate::util::unix_now(), authorizers };
    let bytes = serde_json::to_vec_pretty(&backup).map_err(Failure::runtime)?;
    crate::util::write_atomic(file, Some(0o600), |f| std::io::Write::write_all(f, &bytes))
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", file.display())))?;
    println!(
        "exported {} authorizers of platform {component} to {} (mode 0600: it holds their refresh tokens)",
        backup.authorizers.len(),
        file.display()
    );
    Ok(())
}

async fn import(client: &crate::transport::Client, component: &str, file: &Path) -> Result<(), Failure> {
    let text =
        std::fs::read_to_string(file).map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let backup: Backup = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "{} is not a wxscript platform export: {}",
            file.display(),
            e.to_string().replace('\n', " ")
        ))
    })?;
    if backup.component_appid != component {
        return Err(Failure::usage(format!(
            "{} holds the authorizers of platform {}, not of {component} (the configured one)",
            file.display(),
            backup.component_appid
        )));
    }
    let store = client.store();
    let (mut restored, mut kept) = (0, Vec::new());
    for a in &backup.authorizers {
        let current = store
            .authorizer(component, &a.appid)
            .await
            .map_err(|e| Failure::runtime(format!("cannot read the authorizer {}: {e}", a.appid)))?;
        match current {
            Some(current) if current.refresh_token == a.refresh_token && current.revoked_at == a.revoked_at => {
                restored += 1
            }
            // The store's copy was obtained since (or in the same second): the file's has
            // stopped working, since each refresh retires the one it used.
            Some(current) if current.refreshed_at >= a.refreshed_at => kept.push(a.appid.clone()),
            _ => {
                store
                    .put_authorizer(component, a)
                    .await
                    .map_err(|e| Failure::runtime(format!("cannot store the authorizer {}: {e}", a.appid)))?;
                restored += 1;
            }
        }
    }
    println!("imported {restored} authorizers of platform {component} from {}", file.display());
    if !kept.is_empty() {
        println!("kept the store's newer refresh token of {} (the file's is older)", kept.join(", "));
    }
    Ok(())
}
