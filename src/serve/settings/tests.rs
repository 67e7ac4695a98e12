//! The settings' precedence (flags and environment over the config file),
//! defaults, help texts and refusals.

use super::*;

#[test]
fn peers_parse_and_reject_nonsense() {
    let peers = parse_peers("1=127.0.0.1:7001, 2=127.0.0.1:7002").unwrap();
    assert_eq!(peers[&2], "127.0.0.1:7002");
    assert!(parse_peers("1=a,1=b").is_err());
    assert!(parse_peers("x=a").is_err());
    assert!(parse_peers("0=a").is_err());
    assert!(parse_peers("1").is_err());
}

#[test]
fn flags_win_over_the_config_file_and_advertise_defaults_to_peers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(
        &file,
        "node_id = 2\nlisten = \"0.0.0.0:9000\"\npeers = \"1=a:1,2=b:2\"\n",
    )
    .unwrap();
    let args = ServeSettings {
        listen: Some("127.0.0.1:7002".into()),
        config: Some(file),
        ..Default::default()
    };
    let config = args.resolve().unwrap();
    assert_eq!(config.node.id, 2);
    assert_eq!(config.listen, "127.0.0.1:7002");
    assert_eq!(config.node.advertise_addr, "b:2");
    assert_eq!(config.http, HttpLimits::default());
}

#[test]
fn http_limits_come_from_flags_or_the_file_and_may_not_be_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(
        &file,
        "node_id = 1\nmax_streams = 7\nrequest_timeout_ms = 900\n",
    )
    .unwrap();
    let args = ServeSettings {
        max_inflight_requests: Some(3),
        header_read_timeout_ms: Some(1500),
        config: Some(file),
        ..Default::default()
    };
    let http = args.resolve().unwrap().http;
    assert_eq!(
        http,
        HttpLimits {
            max_inflight_requests: 3,
            max_streams: 7,
            request_timeout: Duration::from_millis(900),
            header_read_timeout: Duration::from_millis(1500),
        }
    );
    let zero = ServeSettings {
        node_id: Some(1),
        max_streams: Some(0),
        ..Default::default()
    };
    assert!(zero.resolve().is_err());
}

#[test]
fn a_joining_node_need_not_be_in_peers_and_never_forms_a_cluster() {
    let outsider = ServeSettings {
        node_id: Some(4),
        peers: Some("1=a:1,2=b:2,3=c:3".into()),
        ..Default::default()
    };
    assert!(outsider.resolve().is_err());
    let joining = ServeSettings {
        node_id: Some(4),
        listen: Some("127.0.0.1:7004".into()),
        peers: Some("1=a:1,2=b:2,3=c:3".into()),
        join: true,
        ..Default::default()
    };
    let config = joining.resolve().unwrap();
    assert!(config.node.join);
    assert_eq!(config.node.advertise_addr, "127.0.0.1:7004");
}

#[test]
fn secrets_come_from_files_named_in_the_config_file_unless_the_environment_sets_them() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("cluster-secret");
    std::fs::write(&secret_file, "cluster-s3cret\n").unwrap();
    let token_file = dir.path().join("api-token");
    std::fs::write(&token_file, "file-token").unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(
        &file,
        format!(
            "node_id = 1\ncluster_secret_file = {:?}\napi_token_file = {:?}\n",
            secret_file, token_file
        ),
    )
    .unwrap();
    let config = ServeSettings {
        config: Some(file.clone()),
        api_token: Some(Secret::new("env-token").unwrap()),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    let auth = config.auth;
    assert_eq!(auth.cluster_secret.unwrap().expose(), "cluster-s3cret");
    let principals = auth.principals.unwrap().current();
    assert!(principals.by_token(b"env-token").is_some());

    let open = ServeSettings {
        node_id: Some(1),
        ..Default::default()
    };
    let auth = open.resolve().unwrap().auth;
    assert!(auth.cluster_secret.is_none() && auth.principals.is_none());
}

#[test]
fn an_empty_or_unreadable_secret_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for path in [empty, dir.path().join("missing")] {
        let args = ServeSettings {
            node_id: Some(1),
            cluster_secret_file: Some(path.clone()),
            ..Default::default()
        };
        let error = format!("{:#}", args.resolve().unwrap_err());
        assert!(error.contains("--cluster-secret-file"), "{error}");
    }
}

#[test]
fn worker_threads_come_from_the_flag_or_the_config_file_and_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(&file, "node_id = 1\nworker_threads = 3\n").unwrap();
    let with_file = |worker_threads| ServeSettings {
        config: Some(file.clone()),
        worker_threads,
        ..Default::default()
    };
    assert_eq!(with_file(None).resolve().unwrap().worker_threads, Some(3));
    assert_eq!(
        with_file(Some(1)).resolve().unwrap().worker_threads,
        Some(1)
    );
    let error = with_file(Some(0)).resolve().unwrap_err().to_string();
    assert!(error.contains("--worker-threads"), "{error}");
    let plain = ServeSettings {
        node_id: Some(1),
        ..Default::default()
    };
    assert_eq!(plain.resolve().unwrap().worker_threads, None);
}

#[test]
fn the_log_format_comes_from_the_flag_or_the_config_file_and_is_text_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(&file, "node_id = 1\nlog_format = \"json\"\n").unwrap();
    let with_file = |log_format| ServeSettings {
        config: Some(file.clone()),
        log_format,
        ..Default::default()
    };
    assert_eq!(
        with_file(None).resolve().unwrap().log_format,
        LogFormat::Json
    );
    assert_eq!(
        with_file(Some(LogFormat::Text))
            .resolve()
            .unwrap()
            .log_format,
        LogFormat::Text
    );
    let plain = ServeSettings {
        node_id: Some(1),
        ..Default::default()
    };
    assert_eq!(plain.resolve().unwrap().log_format, LogFormat::Text);

    std::fs::write(&file, "node_id = 1\nlog_format = \"xml\"\n").unwrap();
    assert!(with_file(None).resolve().is_err());

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeSettings,
    }
    let parse = |value| <Serve as clap::Parser>::try_parse_from(["serve", "--log-format", value]);
    assert_eq!(
        parse("json").unwrap().args.log_format,
        Some(LogFormat::Json)
    );
    assert!(parse("xml").is_err());
}

#[test]
fn serve_help_shows_each_setting_s_default() {
    use clap::CommandFactory;
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeSettings,
    }
    let help = Serve::command().render_help().to_string();
    for default in [
        "[default: 127.0.0.1:7001]",
        "[default: data/n<NODE_ID>]",
        "[default: 50]",
        "[default: 100000]",
        "[default: 5000]",
        "[default: 512]",
        "[default: 30000]",
    ] {
        assert!(help.contains(default), "{default} missing from:\n{help}");
    }
}

#[test]
fn the_config_file_takes_the_flags_names_and_every_key_of_the_shipped_example() {
    let example = include_str!("../../../deploy/ordo.toml");
    let every_key: String = example
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(setting) if setting.contains(" = ") => setting,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let settings: ServeSettings = toml::from_str(&every_key).unwrap();
    assert_eq!(settings.node_id, Some(1));
    assert_eq!(settings.worker_threads, Some(2));
    assert_eq!(settings.log_format, Some(LogFormat::Json));
    assert_eq!(
        settings.kafka_advertise.as_deref(),
        Some("ordo-1.internal:9092")
    );
    // What only a flag says, never the file: where the file is.
    assert!(toml::from_str::<ServeSettings>("config = \"other.toml\"\n").is_err());
    assert!(
        toml::from_str::<ServeSettings>("join = true\n")
            .unwrap()
            .join
    );
}

#[test]
fn a_node_reachable_beyond_loopback_needs_tls_or_a_cluster_secret_unless_insecure() {
    let exposed = |configure: fn(&mut ServeSettings)| {
        let mut settings = ServeSettings {
            node_id: Some(1),
            listen: Some("0.0.0.0:7001".into()),
            ..Default::default()
        };
        configure(&mut settings);
        settings.resolve()
    };
    let refused = exposed(|_| {}).unwrap_err().to_string();
    assert!(refused.contains("--insecure"), "{refused}");
    let secret = exposed(|s| s.cluster_secret = Some(Secret::new("s3cret").unwrap())).unwrap();
    assert!(!secret.auth.protections().insecure);
    let insecure = exposed(|s| s.insecure = true).unwrap();
    assert!(insecure.auth.protections().insecure);
    // Loopback starts as before, and says nothing is insecure.
    let local = ServeSettings {
        node_id: Some(1),
        listen: Some("127.0.0.1:7001".into()),
        ..Default::default()
    };
    assert!(!local.resolve().unwrap().auth.protections().insecure);
}

#[test]
fn tls_needs_its_three_files_and_a_client_auth_mode_needs_tls() {
    let dir = tempfile::tempdir().unwrap();
    ordo_tls::certs::create_ca(dir.path()).unwrap();
    let node =
        ordo_tls::certs::create_node(dir.path(), dir.path(), 1, &["127.0.0.1".into()], false)
            .unwrap();
    let with = |cert: bool, key: bool, ca: bool, client_auth: Option<ClientAuth>| ServeSettings {
        node_id: Some(1),
        listen: Some("0.0.0.0:7001".into()),
        tls_cert: cert.then(|| node.cert.clone()),
        tls_key: key.then(|| node.key.clone()),
        tls_ca: ca.then(|| dir.path().join("ca.crt")),
        tls_client_auth: client_auth,
        ..Default::default()
    };
    let config = with(true, true, true, Some(ClientAuth::Optional))
        .resolve()
        .unwrap();
    let protections = config.auth.protections();
    assert!(protections.tls && protections.peer_certificates && !protections.insecure);
    assert_eq!(protections.client_auth.as_deref(), Some("optional"));
    assert!(config.auth.certificate_principals);
    let config = with(true, true, true, None).resolve().unwrap();
    assert!(
        !config.auth.certificate_principals,
        "none: tokens name principals"
    );
    assert!(with(true, false, true, None).resolve().is_err());
    assert!(with(false, false, false, Some(ClientAuth::Required))
        .resolve()
        .is_err());
}

#[test]
fn the_kafka_listener_comes_from_flags_or_the_config_file_and_advertises_where_clients_connect() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ordo.toml");
    std::fs::write(
        &file,
        "node_id = 1\nkafka_listen = \"0.0.0.0:9092\"\nkafka_advertise = \"ordo-1:9092\"\n",
    )
    .unwrap();
    let from_file = ServeSettings {
        config: Some(file.clone()),
        ..Default::default()
    };
    let kafka = from_file.resolve().unwrap().kafka.unwrap();
    assert_eq!(
        (kafka.listen.as_str(), kafka.advertise.as_str()),
        ("0.0.0.0:9092", "ordo-1:9092")
    );
    let flag_wins = ServeSettings {
        kafka_listen: Some("127.0.0.1:9093".into()),
        kafka_advertise: Some("127.0.0.1:9093".into()),
        config: Some(file),
        ..Default::default()
    };
    let kafka = flag_wins.resolve().unwrap().kafka.unwrap();
    assert_eq!(kafka.advertise, "127.0.0.1:9093");
    let none = ServeSettings {
        node_id: Some(1),
        ..Default::default()
    };
    let config = none.resolve().unwrap();
    assert_eq!((config.kafka, config.node.kafka_advertise), (None, None));
    let every_interface = ServeSettings {
        node_id: Some(1),
        kafka_listen: Some("0.0.0.0:9092".into()),
        ..Default::default()
    };
    let said = format!("{:#}", every_interface.resolve().unwrap_err());
    assert!(said.contains("--kafka-advertise"), "{said}");
}

#[test]
fn the_kafka_flags_read_their_environment_variables() {
    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeSettings,
    }
    use clap::CommandFactory;
    let command = Serve::command();
    let env_of = |flag: &str| {
        command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(flag))
            .and_then(|arg| arg.get_env())
            .map(|env| env.to_string_lossy().into_owned())
    };
    assert_eq!(env_of("kafka-listen").as_deref(), Some("ORDO_KAFKA_LISTEN"));
    assert_eq!(
        env_of("kafka-advertise").as_deref(),
        Some("ORDO_KAFKA_ADVERTISE")
    );
}
