//! The identity model's rules (the store itself is tested end to end).

use super::model::{State, check_access_key, check_user_name};
use super::*;

const ROOT: &str = "admin";

fn state_with_alice() -> State {
    let mut s = State::default();
    s.add_user(
        ROOT,
        "alice",
        &["readonly".into()],
        ("AKALICE", "sealed".into()),
    )
    .unwrap();
    s
}

#[test]
fn user_names_follow_the_iam_alphabet() {
    for ok in ["a", "alice", "A.b@c_d-e+f=g,h", &"x".repeat(64)] {
        assert!(check_user_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "has space", "slash/", "é", &"x".repeat(65)] {
        assert!(matches!(
            check_user_name(bad),
            Err(IamError::InvalidUserName { .. })
        ));
    }
    assert!(check_access_key("AK").is_err());
}

#[test]
fn refused_changes_leave_the_state_unchanged() {
    let mut s = state_with_alice();
    let before = s.clone();
    assert!(matches!(
        s.add_user(ROOT, "alice", &[], ("AK2", "x".into())),
        Err(IamError::UserExists { .. })
    ));
    assert!(matches!(
        s.add_user(ROOT, "bob", &["nope".into()], ("AK2", "x".into())),
        Err(IamError::NoSuchPolicy { .. })
    ));
    assert!(matches!(
        s.add_user(ROOT, "bob", &[], (ROOT, "x".into())),
        Err(IamError::Root)
    ));
    assert!(matches!(
        s.add_user(ROOT, "bob", &[], ("AKALICE", "x".into())),
        Err(IamError::KeyExists { .. })
    ));
    assert!(matches!(
        s.put_policy("p", "{not json"),
        Err(IamError::Policy(_))
    ));
    assert!(matches!(
        s.put_policy("readonly", r#"{"Statement":[]}"#),
        Err(IamError::BuiltinPolicy { .. })
    ));
    assert!(matches!(
        s.add_key(ROOT, "alice", ("AK3", "x".into()), Some("[]".into()), None),
        Err(IamError::Policy(_))
    ));
    assert!(matches!(
        s.set_bucket_policy("b", Some(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#)),
        Err(IamError::Policy(_))
    ));
    assert_eq!(s, before);
}

#[test]
fn removing_a_user_removes_its_keys_and_attached_policies_stay_until_detached() {
    let mut s = state_with_alice();
    s.put_policy(
        "mine",
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
    )
    .unwrap();
    s.attach("mine", "alice").unwrap();
    s.attach("mine", "alice").unwrap();
    assert_eq!(s.users["alice"].policies, ["readonly", "mine"]);
    s.add_key(ROOT, "alice", ("AKALICE2", "x".into()), None, Some(1))
        .unwrap();
    assert!(matches!(
        s.remove_policy("mine"),
        Err(IamError::PolicyInUse { .. })
    ));
    s.remove_user("alice").unwrap();
    assert!(s.keys.is_empty());
    s.remove_policy("mine").unwrap();
    assert!(matches!(
        s.remove_user("alice"),
        Err(IamError::NoSuchUser { .. })
    ));
}
