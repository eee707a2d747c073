"""The market staff's live dashboard: the page, and the same figures in the API."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.figures import staff_dashboard


@staff_member_required
def dashboard_page(request):
    return render(request, "dashboard/staff.html")


class StaffDashboardView(APIView):
    """Active deals with shoppers reached, publications per 5 minutes, the city's best per product."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(staff_dashboard(user=request.user))
