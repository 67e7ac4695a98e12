//! InitProducerId: a new idempotent producer's id, unique for the
//! cluster's life (the log index of an entry proposed for it, from any
//! node), at epoch 0. A producer that asks again with its id and epoch
//! (KIP-360, after a sequence error) gets the next epoch of the same id,
//! which numbers its batches from 0 again. Transactions are not served:
//! a transactional id is `INVALID_REQUEST`.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::ResponseError;

use crate::errors;
use crate::Broker;

pub(crate) async fn answer(
    broker: &Broker,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !id.0.is_empty())
    {
        return refused(ResponseError::InvalidRequest);
    }
    if request.producer_id.0 >= 0 && (0..i16::MAX).contains(&request.producer_epoch) {
        return InitProducerIdResponse::default()
            .with_producer_id(request.producer_id)
            .with_producer_epoch(request.producer_epoch + 1);
    }
    match broker.node.new_producer_id().await {
        Ok(id) => match i64::try_from(id) {
            Ok(id) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0),
            Err(_) => refused(ResponseError::UnknownServerError),
        },
        Err(e) => {
            let error = errors::node_error(&e);
            // Whatever may work later is the coordinator's to retry.
            refused(if error.is_retriable() {
                ResponseError::CoordinatorNotAvailable
            } else {
                ResponseError::UnknownServerError
            })
        }
    }
}
