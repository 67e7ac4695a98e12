//! The ACL file's rules and the rights it grants.

use super::*;

const FILE: &str = r#"
[[principals]]
name = "billing"
token = "billing-token-1"
read = ["orders", "orders.*"]
append = ["payments"]
groups = ["billing-*"]

[[principals]]
name = "reporter"
token_sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
read = ["*"]

[[principals]]
name = "operator"
cert_cn = "ops.example"
admin = true
"#;

fn acl() -> Acl {
    Acl::parse(FILE).expect("the example parses")
}

#[test]
fn principals_are_found_by_token_by_its_sha256_and_by_certificate_name() {
    let acl = acl();
    assert_eq!(acl.by_token(b"billing-token-1").unwrap().name, "billing");
    // sha256("hello")
    assert_eq!(acl.by_token(b"hello").unwrap().name, "reporter");
    assert_eq!(acl.by_cert_cn("ops.example").unwrap().name, "operator");
    assert!(acl.by_token(b"billing-token-2").is_none());
    assert!(acl.by_token(b"").is_none());
    assert!(acl.by_cert_cn("billing").is_none());
}

#[test]
fn rights_follow_names_and_globs_and_nothing_else() {
    let acl = acl();
    let billing = acl.by_token(b"billing-token-1").unwrap();
    assert!(billing
        .check(Permission::Read, Resource::Topic("orders"))
        .is_ok());
    assert!(billing
        .check(Permission::Read, Resource::Topic("orders.eu"))
        .is_ok());
    assert!(billing
        .check(Permission::Append, Resource::Topic("payments"))
        .is_ok());
    assert!(billing
        .check(Permission::Groups, Resource::Group("billing-7"))
        .is_ok());
    let refused = billing
        .check(Permission::Read, Resource::Topic("payments"))
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "principal \"billing\" may not read topic \"payments\""
    );
    assert!(billing
        .check(Permission::Read, Resource::Topic("ordersx"))
        .is_err());
    assert!(billing
        .check(Permission::Append, Resource::Topic("orders"))
        .is_err());
    assert!(billing
        .check(Permission::Groups, Resource::Group("search"))
        .is_err());
    assert!(billing.check(Permission::Admin, Resource::Cluster).is_err());
    // A permission that does not apply to the resource is refused.
    assert!(billing
        .check(Permission::Read, Resource::Group("billing-7"))
        .is_err());

    let reporter = acl.by_token(b"hello").unwrap();
    assert!(reporter
        .check(Permission::Read, Resource::Topic("anything"))
        .is_ok());
    assert!(reporter
        .check(Permission::Append, Resource::Topic("anything"))
        .is_err());

    let operator = acl.by_cert_cn("ops.example").unwrap();
    assert!(operator.check(Permission::Admin, Resource::Cluster).is_ok());
    assert!(operator
        .check(Permission::Read, Resource::Topic("orders"))
        .is_err());
}

#[test]
fn the_api_token_is_a_principal_with_every_right() {
    let token = Secret::new("the-api-token").unwrap();
    let acl = acl()
        .with_token_for_everything("api-token", &token)
        .unwrap();
    let everything = acl.by_token(b"the-api-token").unwrap();
    assert!(everything
        .check(Permission::Admin, Resource::Cluster)
        .is_ok());
    assert!(everything
        .check(Permission::Append, Resource::Topic("x"))
        .is_ok());
    assert!(everything
        .check(Permission::Groups, Resource::Group("g"))
        .is_ok());
    let taken = Secret::new("billing-token-1").unwrap();
    assert!(matches!(
        acl.with_token_for_everything("again", &taken),
        Err(AclError::DuplicateIdentity { .. })
    ));
}

#[test]
fn globs_match_any_run_of_characters() {
    let matches = |pattern: &str, name: &str| Pattern::parse(pattern).unwrap().matches(name);
    assert!(matches("*", ""));
    assert!(matches("a*c", "abbbc"));
    assert!(matches("a*c", "ac"));
    assert!(!matches("a*c", "acb"));
    assert!(matches("*.eu.*", "orders.eu.1"));
    assert!(!matches("orders", "orders.eu"));
    assert!(matches("a*b*c", "aXbYbZc"));
    assert!(matches("**", "x"));
    assert!(!matches("a*b", "a"));
    assert!(matches("*a", "aaa"));
    assert!(!matches("*ab", "aba"));
}

/// The same answers as the plain recursive definition, on every short
/// pattern and name over a small alphabet.
#[test]
fn glob_matching_agrees_with_its_definition() {
    fn by_definition(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len()).any(|skip| by_definition(rest, &name[skip..])),
            Some((first, rest)) => name
                .split_first()
                .is_some_and(|(c, name)| c == first && by_definition(rest, name)),
        }
    }
    fn all_words(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
        let mut words = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|word: &Vec<u8>| {
                    alphabet
                        .iter()
                        .map(move |c| [word.as_slice(), &[*c]].concat())
                })
                .collect();
            words.extend(last.iter().cloned());
        }
        words
    }
    for pattern in all_words(b"a*b", 5) {
        for name in all_words(b"ab", 5) {
            assert_eq!(
                glob_matches(&pattern, &name),
                by_definition(&pattern, &name),
                "{:?} against {:?}",
                String::from_utf8_lossy(&pattern),
                String::from_utf8_lossy(&name)
            );
        }
    }
}

/// Exponential backtracking would not finish this (the test harness's
/// timeout would end it); matching in pattern × name steps takes a blink.
#[test]
fn many_stars_against_a_long_name_end() {
    let pattern = "*a".repeat(20) + "b";
    let name = "a".repeat(249);
    assert!(!Pattern::parse(&pattern).unwrap().matches(&name));
}

#[test]
fn a_bad_file_is_refused_whole_and_says_why_without_the_token() {
    let refused = |text: &str| Acl::parse(text).unwrap_err();
    assert!(matches!(refused("principals = 3"), AclError::Syntax(_)));
    assert!(matches!(
        refused("[[principals]]\nname = \"a\"\nread = [\"x\"]"),
        AclError::Identity { .. }
    ));
    assert!(matches!(
        refused("[[principals]]\nname = \"a\"\ntoken = \"t\"\ncert_cn = \"c\""),
        AclError::Identity { .. }
    ));
    assert!(matches!(
        refused("[[principals]]\nname = \"a\"\ntoken_sha256 = \"abc\""),
        AclError::TokenSha256 { .. }
    ));
    assert!(matches!(
        refused("[[principals]]\nname = \"a\"\ntoken = \"t\"\nread = [\"a/b\"]"),
        AclError::Pattern { .. }
    ));
    assert!(matches!(
        refused("[[principals]]\nname = \"a\"\ntoken = \"t\"\nwrite = [\"x\"]"),
        AclError::Syntax(_)
    ));
    let twice = "[[principals]]\nname = \"a\"\ntoken = \"t\"\n[[principals]]\nname = \"a\"\ncert_cn = \"c\"";
    assert!(matches!(refused(twice), AclError::DuplicateName { .. }));
    let same =
        "[[principals]]\nname = \"a\"\ntoken = \"t\"\n[[principals]]\nname = \"b\"\ntoken = \"t\"";
    assert!(matches!(refused(same), AclError::DuplicateIdentity { .. }));
    let spaced = refused("[[principals]]\nname = \"a\"\ntoken = \"has space\"");
    assert!(matches!(spaced, AclError::Token { .. }));
    assert!(!spaced.to_string().contains("has space"), "{spaced}");
    assert!(!format!("{:?}", acl()).contains("billing-token-1"));
}

#[test]
fn a_syntax_error_names_its_line_and_never_quotes_a_value() {
    let text = "[[principals]]\nname = \"a\"\ntoken = \"t\"\nadmin = \"s3cr3t-token\"\n";
    let AclError::Syntax(message) = Acl::parse(text).unwrap_err() else {
        panic!("a syntax error");
    };
    assert!(message.starts_with("line 4:"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
}
