//! `GET /api/v1/bookings/{code}.ics?token=…` over a real server: the right token gets a
//! calendar file; a wrong, missing or another booking's token gets the same 404 as an
//! unknown code; a cancelled booking answers 410.

use showroom::booking::ics::unfold;
use showroom::store::BookingStore;

use crate::booking_support::{
    book_test_drive, grid_start, open_store, open_web_conversation, start_in,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calendar_files_need_the_booking_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_in(&data, None, |_| {}).await;
    let client = reqwest::Client::new();
    let store = open_store(&data).await;
    let customer = open_web_conversation(&client, &server, &store).await;
    let booking = book_test_drive(&store, &customer, grid_start(3), Vec::new()).await;
    let other = book_test_drive(&store, &customer, grid_start(4), Vec::new()).await;
    let code = booking.code.as_str();
    let get = |path: String| {
        let client = client.clone();
        let url = server.url(&path);
        async move { client.get(url).send().await.unwrap() }
    };

    let response = get(format!(
        "/api/v1/bookings/{code}.ics?token={}",
        booking.ics_token
    ))
    .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/calendar; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{code}.ics\"").as_str()
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("BEGIN:VCALENDAR\r\n"), "{body}");
    let lines = unfold(&body);
    let start = booking.slot.start.strftime("%Y%m%dT%H%M%SZ").to_string();
    for expected in [
        format!("UID:{code}@showroom"),
        format!("DTSTART:{start}"),
        r"LOCATION:Sede Norte\, Av. 6N # 28N-10\, Cali".to_owned(),
        "SUMMARY:Prueba de manejo: Tiguan · Autos del Valle".to_owned(),
    ] {
        assert!(lines.contains(&expected), "{expected} in {lines:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DESCRIPTION:") && l.contains(code)),
        "{lines:#?}"
    );

    for path in [
        format!("/api/v1/bookings/{code}.ics"),
        format!("/api/v1/bookings/{code}.ics?token="),
        format!("/api/v1/bookings/{code}.ics?token=wrong"),
        format!("/api/v1/bookings/{code}.ics?token={}", other.ics_token),
        format!("/api/v1/bookings/PM-22222.ics?token={}", booking.ics_token),
        format!("/api/v1/bookings/{code}?token={}", booking.ics_token),
    ] {
        let response = get(path.clone()).await;
        assert_eq!(response.status(), 404, "{path}");
    }

    let bookings: &dyn BookingStore = &store;
    bookings
        .cancel(&booking.code, None, "test")
        .await
        .unwrap()
        .expect("cancelled");
    let response = get(format!(
        "/api/v1/bookings/{code}.ics?token={}",
        booking.ics_token
    ))
    .await;
    assert_eq!(response.status(), 410);
    // Wrong token on a cancelled booking: still just "not found".
    let response = get(format!("/api/v1/bookings/{code}.ics?token=wrong")).await;
    assert_eq!(response.status(), 404);

    server.stop().await;
    store.close().await;
}
