use super::*;
use crate::acl::Acl;

fn rights(method: Method, route: &str, path: &str) -> Vec<Right> {
    required(&method, route, path)
}

#[test]
fn each_route_needs_the_right_of_the_table() {
    let topic = |t: &str| t.to_string();
    assert_eq!(
        rights(
            Method::GET,
            "/v1/topics/{topic}/records",
            "/v1/topics/orders/records"
        ),
        vec![Right::Read(topic("orders"))]
    );
    assert_eq!(
        rights(
            Method::POST,
            "/v1/topics/{topic}/records",
            "/v1/topics/orders/records"
        ),
        vec![Right::Append(topic("orders"))]
    );
    for route in ["/v1/topics/{topic}/stream", "/v1/topics/{topic}/offsets"] {
        let path = route.replace("{topic}", "orders");
        assert_eq!(
            rights(Method::GET, route, &path),
            vec![Right::Read(topic("orders"))]
        );
    }
    assert_eq!(
        rights(
            Method::PUT,
            "/v1/consumers/{group}/offsets/{topic}",
            "/v1/consumers/g1/offsets/orders"
        ),
        vec![Right::Groups(topic("g1")), Right::Read(topic("orders"))]
    );
    assert_eq!(
        rights(Method::GET, "/v1/consumers/{group}", "/v1/consumers/g1"),
        vec![Right::Groups(topic("g1"))]
    );
    for (method, route) in [
        (Method::PUT, "/v1/topics/{topic}"),
        (Method::DELETE, "/v1/topics/{topic}"),
        (Method::POST, "/v1/topics/{topic}/compact"),
        (Method::POST, "/v1/cluster/nodes"),
        (Method::DELETE, "/v1/cluster/nodes/{id}"),
        (Method::POST, "/v1/cluster/leader"),
        (Method::POST, "/v1/cluster/init"),
        (Method::GET, "/v1/admin/snapshot"),
        (Method::GET, "/v1/a/route/not/in/the/table"),
    ] {
        assert_eq!(rights(method, route, route), vec![Right::Admin], "{route}");
    }
    for route in [
        "/v1/cluster",
        "/v1/cluster/nodes",
        "/v1/events",
        "/v1/topics",
    ] {
        assert!(rights(Method::GET, route, route).is_empty(), "{route}");
    }
}

#[test]
fn a_name_is_checked_as_the_handler_decodes_it() {
    assert_eq!(
        rights(Method::GET, "/v1/topics/{topic}", "/v1/topics/pay%6Dents"),
        vec![Right::Read("payments".into())]
    );
    // A stray or bad escape is kept as it is (the handler refuses the name).
    assert_eq!(
        rights(Method::GET, "/v1/topics/{topic}", "/v1/topics/a%zz%"),
        vec![Right::Read("a%zz%".into())]
    );
    assert_eq!(
        rights(Method::GET, "/v1/topics/{topic}", "/v1/topics/%FF"),
        vec![Right::Read("\u{FFFD}".into())]
    );
}

#[test]
fn a_principal_needs_every_right_a_route_asks() {
    let acl = Acl::parse(
        r#"
        [[principals]]
        name = "billing"
        token = "b"
        read = ["orders.*"]
        groups = ["billing-*"]
        "#,
    )
    .unwrap();
    let billing = acl.by_token(b"b").unwrap();
    let commit = |group: &str, topic: &str| {
        required(
            &Method::PUT,
            "/v1/consumers/{group}/offsets/{topic}",
            &format!("/v1/consumers/{group}/offsets/{topic}"),
        )
    };
    assert!(check(billing, &commit("billing-1", "orders.eu")).is_ok());
    let other_group = check(billing, &commit("shipping", "orders.eu")).unwrap_err();
    assert!(other_group
        .to_string()
        .contains("consumer group \"shipping\""));
    let other_topic = check(billing, &commit("billing-1", "payments")).unwrap_err();
    assert!(other_topic.to_string().contains("read topic \"payments\""));
    assert!(check(billing, &[Right::Admin]).is_err());
    assert!(check(billing, &[]).is_ok());
}

#[test]
fn a_queues_jobs_need_the_group_and_the_topic_and_its_config_needs_admin() {
    let worker = vec![
        Right::Groups("mailers".to_string()),
        Right::Read("mail".to_string()),
    ];
    for action in ["claim", "ack", "nack", "extend"] {
        let route = format!("/v1/queues/{{group}}/{{topic}}/{action}");
        let path = format!("/v1/queues/mailers/mail/{action}");
        assert_eq!(rights(Method::POST, &route, &path), worker, "{action}");
    }
    let queue = ("/v1/queues/{group}/{topic}", "/v1/queues/mailers/mail");
    assert_eq!(rights(Method::GET, queue.0, queue.1), worker);
    for method in [Method::PUT, Method::DELETE] {
        assert_eq!(rights(method, queue.0, queue.1), vec![Right::Admin]);
    }
    assert!(rights(Method::GET, "/v1/queues", "/v1/queues").is_empty());
}
