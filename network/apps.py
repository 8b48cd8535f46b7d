from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "network"

    def ready(self) -> None:
        # Customers' service changes reach live sessions (CoA / Disconnect); hierarchy calls these through
        # its handler table and never imports the network.
        from hierarchy.events import SubscriberChange, on_subscriber_changed
        from network.services import subscriber_disconnect, subscriber_rate_change

        on_subscriber_changed(SubscriberChange.RATE, subscriber_rate_change)
        on_subscriber_changed(SubscriberChange.ACCESS_LOST, subscriber_disconnect)
