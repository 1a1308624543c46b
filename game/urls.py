from django.urls import path

from game import views

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/new", views.create_room, name="create_room"),
    path("rooms/join", views.join_by_code, name="join_by_code"),
    path("rooms/public.json", views.public_rooms, name="public_rooms"),
    path("r/<str:code>", views.room, name="room"),
    path("rooms/<str:code>/games/<int:game_no>/gallery.json", views.gallery, name="gallery"),
    path("rooms/<str:code>/drawings/<int:drawing_id>.svg", views.drawing_svg, name="drawing_svg"),
    path("staff/drawings/<int:drawing_id>.svg", views.admin_drawing_svg, name="admin_drawing_svg"),
]
