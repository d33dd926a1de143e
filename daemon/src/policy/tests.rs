//! Policy documents end to end (parse → evaluate), the table; the property test of the
//! evaluator against a reference model is `model`.

use std::sync::Arc;

use super::*;

fn ctx() -> Context<'static> {
    Context {
        vars: Variables {
            username: Some("alice"),
            userid: Some("alice"),
        },
        source_ip: Some("127.0.0.1".parse().unwrap()),
        secure_transport: false,
        now: 1_796_500_800,
        prefix: None,
        delimiter: None,
        max_keys: None,
    }
}

fn identity(json: &str) -> Policy {
    Policy::parse(json, Kind::Identity).unwrap()
}

fn decide(policies: &[Arc<Policy>], key: Option<&Policy>, action: Action, res: &str) -> Decision {
    let user = Principal::User {
        name: "alice",
        policies,
        key_policy: key,
    };
    authorize(user, None, action, res, &ctx())
}

#[test]
fn builtin_policies_compile_and_mean_what_they_say() {
    let all = builtins().unwrap();
    assert_eq!(all.len(), 4);
    let get = |n: &str| Arc::new(all.iter().find(|(name, _)| *name == n).unwrap().1.clone());
    let obj = resource_arn(Some("b"), Some("k"));
    let ro = [get("readonly")];
    assert!(decide(&ro, None, Action::GetObject, &obj).allowed());
    assert!(decide(&ro, None, Action::ListBucket, "arn:aws:s3:::b").allowed());
    assert!(
        decide(
            &ro,
            None,
            Action::ListAllMyBuckets,
            &resource_arn(None, None)
        )
        .allowed()
    );
    assert!(!decide(&ro, None, Action::PutObject, &obj).allowed());
    assert!(!decide(&ro, None, Action::DeleteObject, &obj).allowed());
    let wo = [get("writeonly")];
    assert!(decide(&wo, None, Action::PutObject, &obj).allowed());
    assert!(!decide(&wo, None, Action::GetObject, &obj).allowed());
    let rw = [get("readwrite")];
    assert!(decide(&rw, None, Action::DeleteBucket, "arn:aws:s3:::b").allowed());
    assert!(!decide(&rw, None, Action::CreateUser, &resource_arn(None, None)).allowed());
    let diag = [get("diagnostics")];
    assert!(decide(&diag, None, Action::ServerInfo, &resource_arn(None, None)).allowed());
    assert!(!decide(&diag, None, Action::GetObject, &obj).allowed());
    assert!(is_builtin("readonly") && !is_builtin("custom"));
}

#[test]
fn explicit_deny_wins_over_any_allow() {
    let allow = Arc::new(identity(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
    ));
    let deny = Arc::new(identity(
        r#"{"Statement":{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}}"#,
    ));
    let obj = resource_arn(Some("b"), Some("k"));
    let both = [allow.clone(), deny];
    assert_eq!(
        decide(&both, None, Action::DeleteObject, &obj),
        Decision::ExplicitDeny
    );
    assert!(decide(&both, None, Action::GetObject, &obj).allowed());
    assert_eq!(
        decide(&[], None, Action::GetObject, &obj),
        Decision::ImplicitDeny
    );
}

#[test]
fn a_key_policy_only_narrows_its_user() {
    let user = [Arc::new(identity(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    ))];
    let key = identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
    let obj = resource_arn(Some("b"), Some("k"));
    assert!(decide(&user, Some(&key), Action::GetObject, &obj).allowed());
    assert!(!decide(&user, Some(&key), Action::PutObject, &obj).allowed());
    let narrow = identity(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/pub/*"}}"#,
    );
    assert!(!decide(&user, Some(&narrow), Action::GetObject, &obj).allowed());
    let pub_obj = resource_arn(Some("b"), Some("pub/x"));
    assert!(decide(&user, Some(&narrow), Action::GetObject, &pub_obj).allowed());
}

#[test]
fn not_action_and_not_resource_cover_everything_else() {
    let p = [Arc::new(identity(
        r#"{"Statement":{"Effect":"Allow","NotAction":"s3:DeleteObject","NotResource":"arn:aws:s3:::secret/*"}}"#,
    ))];
    let obj = resource_arn(Some("b"), Some("k"));
    assert!(decide(&p, None, Action::PutObject, &obj).allowed());
    assert!(!decide(&p, None, Action::DeleteObject, &obj).allowed());
    let secret = resource_arn(Some("secret"), Some("k"));
    assert!(!decide(&p, None, Action::GetObject, &secret).allowed());
}

#[test]
fn prefix_policy_with_username_confines_listing_and_writes() {
    let p = [Arc::new(identity(
        r#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home",
           "Condition":{"StringLike":{"s3:prefix":["${aws:username}/*","${aws:username}/"]}}},
          {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
           "Resource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    ))];
    let policies = &p[..];
    let user = Principal::User {
        name: "alice",
        policies,
        key_policy: None,
    };
    let list = |prefix: &'static str| {
        let c = Context {
            prefix: Some(prefix),
            ..ctx()
        };
        authorize(user, None, Action::ListBucket, "arn:aws:s3:::home", &c).allowed()
    };
    assert!(list("alice/"));
    assert!(list("alice/docs/"));
    assert!(!list("bob/"));
    assert!(!list(""));
    let put = |key| {
        authorize(
            user,
            None,
            Action::PutObject,
            &resource_arn(Some("home"), Some(key)),
            &ctx(),
        )
        .allowed()
    };
    assert!(put("alice/notes.txt"));
    assert!(!put("bob/notes.txt"));
}

#[test]
fn bucket_policies_grant_anonymous_reads_only_where_they_say() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#,
        Kind::Bucket("site"),
    )
    .unwrap();
    assert!(p.is_public());
    let obj = resource_arn(Some("site"), Some("index.html"));
    let anon = |action| authorize(Principal::Anonymous, Some(&p), action, &obj, &ctx());
    assert!(anon(Action::GetObject).allowed());
    assert!(!anon(Action::PutObject).allowed());
    assert!(!authorize(Principal::Anonymous, None, Action::GetObject, &obj, &ctx()).allowed());
    // Another bucket's resources, or a missing principal, are refused in a bucket policy.
    let other = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#;
    assert!(matches!(
        Policy::parse(other, Kind::Bucket("site")),
        Err(PolicyError::Resource { .. })
    ));
    let no_principal = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
    assert!(matches!(
        Policy::parse(no_principal, Kind::Bucket("site")),
        Err(PolicyError::Principal { .. })
    ));
    // A named user's grant is not for anonymous callers.
    let named = Policy::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam:::user/bob"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#,
        Kind::Bucket("site"),
    )
    .unwrap();
    assert!(!named.is_public());
    assert!(
        !authorize(
            Principal::Anonymous,
            Some(&named),
            Action::GetObject,
            &obj,
            &ctx()
        )
        .allowed()
    );
    let bob = Principal::User {
        name: "bob",
        policies: &[],
        key_policy: None,
    };
    assert!(authorize(bob, Some(&named), Action::GetObject, &obj, &ctx()).allowed());
}

#[test]
fn bad_documents_get_errors_that_name_the_problem() {
    type Case = (&'static str, fn(&PolicyError) -> bool);
    let cases: &[Case] = &[
        ("{", |e| matches!(e, PolicyError::Malformed { .. })),
        ("[]", |e| matches!(e, PolicyError::Malformed { .. })),
        (r#"{"Version":"2012-10-17"}"#, |e| {
            matches!(e, PolicyError::Malformed { .. })
        }),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::UnknownAction { action } if action == "s3:GetObjekt"),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::UnknownAction { .. }),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Actions":"s3:*","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::UnknownField { field } if field == "Actions"),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::Malformed { .. }),
        ),
        (
            r#"{"Statement":{"Effect":"Maybe","Action":"s3:*","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::Malformed { .. }),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:ec2:::x"}}"#,
            |e| matches!(e, PolicyError::Resource { .. }),
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
            |e| matches!(e, PolicyError::Principal { .. }),
        ),
    ];
    for (text, expected) in cases {
        let err = Policy::parse(text, Kind::Identity).unwrap_err();
        assert!(expected(&err), "{text}: {err}");
        assert!(!err.to_string().is_empty());
    }
    let big = format!(
        r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Action":"s3:*","Resource":"*"}}}}"#,
        "x".repeat(MAX_POLICY_SIZE)
    );
    assert!(matches!(
        Policy::parse(&big, Kind::Identity),
        Err(PolicyError::TooLarge { .. })
    ));
}

#[test]
fn every_grpc_method_of_the_object_service_has_a_row() {
    let proto = include_str!("../../../proto/proto/object.proto");
    let methods: Vec<&str> = proto
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rpc "))
        .filter_map(|l| l.split('(').next())
        .collect();
    assert!(methods.len() > 20);
    for m in methods {
        let path = format!("/tessera.object.v1.ObjectService/{m}");
        // An empty message decodes as every request with default fields.
        let need = grpc_method(&path, &[]);
        let streamed = matches!(m, "PutObject" | "UploadPart");
        assert_eq!(need.is_some(), !streamed, "{m}");
    }
    let header = tessera_proto::object::PutObjectRequest {
        msg: Some(tessera_proto::object::put_object_request::Msg::Header(
            tessera_proto::object::PutObjectHeader {
                bucket: "b".into(),
                key: "k".into(),
                ..Default::default()
            },
        )),
    };
    let need = grpc_method(
        "/tessera.object.v1.ObjectService/PutObject",
        &prost::Message::encode_to_vec(&header),
    )
    .unwrap();
    assert_eq!(need.checks[0].action, Action::PutObject);
    assert_eq!(need.checks[0].key.as_deref(), Some("k"));
    assert_eq!(
        grpc_method("/tessera.object.v1.ObjectService/Nope", &[]),
        None
    );
}

#[test]
fn s3_listings_carry_their_prefix_and_copies_need_both_sides() {
    let need = s3_operation(
        "ListObjectsV2",
        Some("b"),
        None,
        Some("list-type=2&prefix=home%2Falice%2F&delimiter=%2F&max-keys=10"),
        None,
    )
    .unwrap();
    assert_eq!(need.listing.prefix.as_deref(), Some("home/alice/"));
    assert_eq!(need.listing.delimiter.as_deref(), Some("/"));
    assert_eq!(need.listing.max_keys, Some(10));
    let need = s3_operation("CopyObject", Some("d"), Some("k2"), None, Some(("s", "k1"))).unwrap();
    let actions: Vec<_> = need.checks.iter().map(|c| c.action).collect();
    assert_eq!(actions, [Action::GetObject, Action::PutObject]);
    assert_eq!(
        s3_operation("PutBucketEncryption", Some("b"), None, None, None),
        None
    );
    // Naming a version asks for the version's action.
    let need = s3_operation(
        "GetObject",
        Some("b"),
        Some("k"),
        Some("versionId=null"),
        None,
    );
    let actions: Vec<_> = need.unwrap().checks.iter().map(|c| c.action).collect();
    assert_eq!(actions, [Action::GetObjectVersion]);
    let need = s3_operation(
        "DeleteObject",
        Some("b"),
        Some("k"),
        Some("versionId=x"),
        None,
    );
    let actions: Vec<_> = need.unwrap().checks.iter().map(|c| c.action).collect();
    assert_eq!(actions, [Action::DeleteObjectVersion]);
}

mod model;
