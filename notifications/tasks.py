from celery import shared_task

from notifications import services


@shared_task(name="notifications.deliver_webhook")
def deliver_webhook(delivery_id: str) -> bool:
    """One attempt of a webhook delivery, if it is still due; retries come from deliver_due."""
    return services.webhook_deliver(delivery_id=delivery_id) is not None


@shared_task(name="notifications.deliver_due", expires=5)
def deliver_due() -> int:
    """Every webhook attempt that has come due: retries after their backoff, and first attempts on
    the embedded profile."""
    return services.webhook_deliveries_due()
