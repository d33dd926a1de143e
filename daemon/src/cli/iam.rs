//! `tessera admin user|key|policy …` and `tessera anonymous set …`: the admin API's client.
//! `user add` and `key add` print exactly two lines, `Access Key: …` and `Secret Key: …`,
//! for scripts; every other command prints one line per item.

use anyhow::{Context, bail};
use tessera_proto::admin as pb;
use tessera_proto::auth::Credentials;
use tessera_proto::client::{AdminClient, connect_admin_with};

use super::client::status_error;

/// A connected admin client.
pub struct Admin {
    rpc: AdminClient,
}

fn print_key(k: &pb::NewKey) {
    println!("Access Key: {}", k.access_key);
    println!("Secret Key: {}", k.secret_key);
}

/// Seconds of a duration such as `90s`, `45m`, `12h`, `30d` or a plain number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = digits
        .parse()
        .with_context(|| format!("invalid duration {text:?} (examples: 90s, 45m, 12h, 30d)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("invalid duration {text:?} (examples: 90s, 45m, 12h, 30d)"),
    };
    n.checked_mul(scale)
        .filter(|s| *s > 0)
        .with_context(|| format!("invalid duration {text:?}"))
}

/// The bucket policy `tessera anonymous set MODE BUCKET[/PREFIX]` stands for; `None` for
/// `none`.
pub fn anonymous_policy(mode: &str, target: &str) -> anyhow::Result<(String, Option<String>)> {
    let (bucket, prefix) = target.split_once('/').unwrap_or((target, ""));
    if bucket.is_empty() {
        bail!("expected BUCKET[/PREFIX], got {target:?}");
    }
    let objects = format!("arn:aws:s3:::{bucket}/{prefix}*");
    let statement = |actions: &[&str], resource: &str| {
        serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": actions,
            "Resource": [resource],
        })
    };
    let mut statements = match mode {
        "none" => return Ok((bucket.to_owned(), None)),
        "download" => vec![statement(&["s3:GetObject"], &objects)],
        "upload" => vec![statement(
            &[
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            &objects,
        )],
        "public" => vec![statement(
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            &objects,
        )],
        other => bail!("unknown mode {other:?}: use download, upload, public or none"),
    };
    if mode == "public" {
        let mut list = statement(&["s3:ListBucket"], &format!("arn:aws:s3:::{bucket}"));
        if !prefix.is_empty() {
            list["Condition"] =
                serde_json::json!({"StringLike": {"s3:prefix": [format!("{prefix}*")]}});
        }
        statements.push(list);
    }
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements});
    Ok((bucket.to_owned(), Some(doc.to_string())))
}

impl Admin {
    /// Connects to `endpoint` with `creds`, over TLS with `tls` when it is `https://`.
    pub async fn connect(
        endpoint: &str,
        creds: Credentials,
        tls: &tessera_proto::tls::ClientTls,
    ) -> anyhow::Result<Self> {
        let rpc = connect_admin_with(endpoint, creds, tls)
            .await
            .with_context(|| format!("cannot reach {endpoint}"))?;
        Ok(Self { rpc })
    }

    /// `user add`.
    pub async fn user_add(
        &mut self,
        name: &str,
        policies: Vec<String>,
        access_key: Option<String>,
        secret_stdin: bool,
    ) -> anyhow::Result<()> {
        let secret_key = if secret_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the secret from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        } else {
            String::new()
        };
        let key = self
            .rpc
            .add_user(pb::AddUserRequest {
                name: name.to_owned(),
                policies,
                access_key: access_key.unwrap_or_default(),
                secret_key,
            })
            .await
            .map_err(status_error)?
            .into_inner();
        print_key(&key);
        Ok(())
    }

    /// `user list`.
    pub async fn user_list(&mut self) -> anyhow::Result<()> {
        let users = self
            .rpc
            .list_users(pb::ListUsersRequest {})
            .await
            .map_err(status_error)?
            .into_inner()
            .users;
        for u in users {
            let state = if u.enabled { "enabled" } else { "disabled" };
            println!("{}\t{state}\t{}", u.name, u.policies.join(","));
        }
        Ok(())
    }

    /// `user info NAME`.
    pub async fn user_info(&mut self, name: &str) -> anyhow::Result<()> {
        let info = self
            .rpc
            .user_info(pb::UserRequest { name: name.into() })
            .await
            .map_err(status_error)?
            .into_inner();
        if let Some(u) = info.user {
            println!("User     : {}", u.name);
            println!(
                "State    : {}",
                if u.enabled { "enabled" } else { "disabled" }
            );
            println!("Policies : {}", u.policies.join(", "));
        }
        for k in info.keys {
            println!("Key      : {}", key_line(&k));
        }
        Ok(())
    }

    /// `user enable|disable NAME`.
    pub async fn user_enable(&mut self, name: &str, enabled: bool) -> anyhow::Result<()> {
        self.rpc
            .set_user_enabled(pb::SetUserEnabledRequest {
                name: name.into(),
                enabled,
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `user remove NAME`.
    pub async fn user_remove(&mut self, name: &str) -> anyhow::Result<()> {
        self.rpc
            .remove_user(pb::UserRequest { name: name.into() })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `key add USER [--policy FILE] [--expires DUR]`.
    pub async fn key_add(
        &mut self,
        user: &str,
        policy: Option<&str>,
        expires: Option<&str>,
    ) -> anyhow::Result<()> {
        let policy = match policy {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading the policy {path}"))?,
            None => String::new(),
        };
        let expires = match expires {
            Some(d) => now_secs() + parse_duration(d)?,
            None => 0,
        };
        let key = self
            .rpc
            .add_key(pb::AddKeyRequest {
                user: user.into(),
                policy,
                expires,
            })
            .await
            .map_err(status_error)?
            .into_inner();
        print_key(&key);
        Ok(())
    }

    /// `key list USER`.
    pub async fn key_list(&mut self, user: &str) -> anyhow::Result<()> {
        let keys = self
            .rpc
            .list_keys(pb::UserRequest { name: user.into() })
            .await
            .map_err(status_error)?
            .into_inner()
            .keys;
        for k in keys {
            println!("{}", key_line(&k));
        }
        Ok(())
    }

    /// `key remove ACCESS_KEY`.
    pub async fn key_remove(&mut self, access_key: &str) -> anyhow::Result<()> {
        self.rpc
            .remove_key(pb::RemoveKeyRequest {
                access_key: access_key.into(),
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `policy add NAME FILE`.
    pub async fn policy_add(&mut self, name: &str, file: &str) -> anyhow::Result<()> {
        let document =
            std::fs::read_to_string(file).with_context(|| format!("reading the policy {file}"))?;
        self.rpc
            .add_policy(pb::AddPolicyRequest {
                name: name.into(),
                document,
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `policy list`.
    pub async fn policy_list(&mut self) -> anyhow::Result<()> {
        let policies = self
            .rpc
            .list_policies(pb::ListPoliciesRequest {})
            .await
            .map_err(status_error)?
            .into_inner()
            .policies;
        for p in policies {
            let kind = if p.builtin { "built-in" } else { "custom" };
            println!("{}\t{kind}", p.name);
        }
        Ok(())
    }

    /// `policy info NAME`: the document.
    pub async fn policy_info(&mut self, name: &str) -> anyhow::Result<()> {
        let doc = self
            .rpc
            .policy_info(pb::PolicyRequest { name: name.into() })
            .await
            .map_err(status_error)?
            .into_inner()
            .document;
        println!("{doc}");
        Ok(())
    }

    /// `policy remove NAME`.
    pub async fn policy_remove(&mut self, name: &str) -> anyhow::Result<()> {
        self.rpc
            .remove_policy(pb::PolicyRequest { name: name.into() })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `policy attach NAME --user USER`.
    pub async fn policy_attach(&mut self, name: &str, user: &str) -> anyhow::Result<()> {
        self.rpc
            .attach_policy(pb::AttachPolicyRequest {
                policy: name.into(),
                user: user.into(),
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }

    /// `anonymous set MODE BUCKET[/PREFIX]`.
    pub async fn anonymous_set(&mut self, mode: &str, target: &str) -> anyhow::Result<()> {
        let (bucket, document) = anonymous_policy(mode, target)?;
        self.rpc
            .set_bucket_policy(pb::SetBucketPolicyRequest {
                bucket,
                document: document.unwrap_or_default(),
            })
            .await
            .map_err(status_error)?;
        Ok(())
    }
}

fn key_line(k: &pb::KeySummary) -> String {
    let expires = if k.expires == 0 {
        "never expires".to_owned()
    } else {
        format!("expires at {} (epoch seconds)", k.expires)
    };
    let policy = if k.has_policy { ", own policy" } else { "" };
    format!("{}\t{expires}{policy}", k.access_key)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("45m").unwrap(), 2700);
        assert_eq!(parse_duration("30d").unwrap(), 2_592_000);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn anonymous_modes_are_bucket_policies_the_server_accepts() {
        for mode in ["download", "upload", "public"] {
            for target in ["site", "site/assets/"] {
                let (bucket, doc) = anonymous_policy(mode, target).unwrap();
                let doc = doc.unwrap();
                let p = tessera_daemon::policy::Policy::parse(
                    &doc,
                    tessera_daemon::policy::Kind::Bucket(&bucket),
                )
                .unwrap();
                assert!(p.is_public(), "{mode} {target}");
            }
        }
        assert_eq!(anonymous_policy("none", "site").unwrap().1, None);
        assert!(anonymous_policy("everything", "site").is_err());
    }
}
