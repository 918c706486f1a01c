"""Seed Shandong's 136 county-level divisions (GB/T 2260: districts, county-level cities, counties).

Before this, only the province and its 16 cities were seeded, so every real address (and the
examples in the API documents, which use 370102 Lixia) first needed `POST /v1/localities`.
The list is the current one (2023 edition of the codes: Laiwu's districts under Jinan since
2019, Penglai a district of Yantai since 2020, Chiping a district of Liaocheng since 2019),
taken from python-stdnum's copy of the code table and written out here so that the migration
never changes with a library upgrade. Rows an organiser already added keep their own names.

Revision ID: 0049
Revises: 0043
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import insert

revision: str = "0049"
down_revision: str | None = "0043"
branch_labels = None
depends_on = None

# (code, name): the parent is the city whose code shares the first four digits.
SHANDONG_COUNTIES: list[tuple[str, str]] = [
    # 370100
    ("370102", "历下区"),
    ("370103", "市中区"),
    ("370104", "槐荫区"),
    ("370105", "天桥区"),
    ("370112", "历城区"),
    ("370113", "长清区"),
    ("370114", "章丘区"),
    ("370115", "济阳区"),
    ("370116", "莱芜区"),
    ("370117", "钢城区"),
    ("370124", "平阴县"),
    ("370126", "商河县"),
    # 370200
    ("370202", "市南区"),
    ("370203", "市北区"),
    ("370211", "黄岛区"),
    ("370212", "崂山区"),
    ("370213", "李沧区"),
    ("370214", "城阳区"),
    ("370215", "即墨区"),
    ("370281", "胶州市"),
    ("370283", "平度市"),
    ("370285", "莱西市"),
    # 370300
    ("370302", "淄川区"),
    ("370303", "张店区"),
    ("370304", "博山区"),
    ("370305", "临淄区"),
    ("370306", "周村区"),
    ("370321", "桓台县"),
    ("370322", "高青县"),
    ("370323", "沂源县"),
    # 370400
    ("370402", "市中区"),
    ("370403", "薛城区"),
    ("370404", "峄城区"),
    ("370405", "台儿庄区"),
    ("370406", "山亭区"),
    ("370481", "滕州市"),
    # 370500
    ("370502", "东营区"),
    ("370503", "河口区"),
    ("370505", "垦利区"),
    ("370522", "利津县"),
    ("370523", "广饶县"),
    # 370600
    ("370602", "芝罘区"),
    ("370611", "福山区"),
    ("370612", "牟平区"),
    ("370613", "莱山区"),
    ("370614", "蓬莱区"),
    ("370681", "龙口市"),
    ("370682", "莱阳市"),
    ("370683", "莱州市"),
    ("370685", "招远市"),
    ("370686", "栖霞市"),
    ("370687", "海阳市"),
    # 370700
    ("370702", "潍城区"),
    ("370703", "寒亭区"),
    ("370704", "坊子区"),
    ("370705", "奎文区"),
    ("370724", "临朐县"),
    ("370725", "昌乐县"),
    ("370781", "青州市"),
    ("370782", "诸城市"),
    ("370783", "寿光市"),
    ("370784", "安丘市"),
    ("370785", "高密市"),
    ("370786", "昌邑市"),
    # 370800
    ("370811", "任城区"),
    ("370812", "兖州区"),
    ("370826", "微山县"),
    ("370827", "鱼台县"),
    ("370828", "金乡县"),
    ("370829", "嘉祥县"),
    ("370830", "汶上县"),
    ("370831", "泗水县"),
    ("370832", "梁山县"),
    ("370881", "曲阜市"),
    ("370883", "邹城市"),
    # 370900
    ("370902", "泰山区"),
    ("370911", "岱岳区"),
    ("370921", "宁阳县"),
    ("370923", "东平县"),
    ("370982", "新泰市"),
    ("370983", "肥城市"),
    # 371000
    ("371002", "环翠区"),
    ("371003", "文登区"),
    ("371082", "荣成市"),
    ("371083", "乳山市"),
    # 371100
    ("371102", "东港区"),
    ("371103", "岚山区"),
    ("371121", "五莲县"),
    ("371122", "莒县"),
    # 371300
    ("371302", "兰山区"),
    ("371311", "罗庄区"),
    ("371312", "河东区"),
    ("371321", "沂南县"),
    ("371322", "郯城县"),
    ("371323", "沂水县"),
    ("371324", "兰陵县"),
    ("371325", "费县"),
    ("371326", "平邑县"),
    ("371327", "莒南县"),
    ("371328", "蒙阴县"),
    ("371329", "临沭县"),
    # 371400
    ("371402", "德城区"),
    ("371403", "陵城区"),
    ("371422", "宁津县"),
    ("371423", "庆云县"),
    ("371424", "临邑县"),
    ("371425", "齐河县"),
    ("371426", "平原县"),
    ("371427", "夏津县"),
    ("371428", "武城县"),
    ("371481", "乐陵市"),
    ("371482", "禹城市"),
    # 371500
    ("371502", "东昌府区"),
    ("371503", "茌平区"),
    ("371521", "阳谷县"),
    ("371522", "莘县"),
    ("371524", "东阿县"),
    ("371525", "冠县"),
    ("371526", "高唐县"),
    ("371581", "临清市"),
    # 371600
    ("371602", "滨城区"),
    ("371603", "沾化区"),
    ("371621", "惠民县"),
    ("371622", "阳信县"),
    ("371623", "无棣县"),
    ("371625", "博兴县"),
    ("371681", "邹平市"),
    # 371700
    ("371702", "牡丹区"),
    ("371703", "定陶区"),
    ("371721", "曹县"),
    ("371722", "单县"),
    ("371723", "成武县"),
    ("371724", "巨野县"),
    ("371725", "郓城县"),
    ("371726", "鄄城县"),
    ("371728", "东明县"),
]


def upgrade() -> None:
    localities = sa.table(
        "localities",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("level", sa.String),
        sa.column("parent_code", sa.String),
    )
    op.execute(
        insert(localities)
        .values(
            [
                {"code": code, "name": name, "level": "county", "parent_code": code[:4] + "00"}
                for code, name in SHANDONG_COUNTIES
            ]
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )


def downgrade() -> None:
    # Nothing to undo: the rows are real localities that enterprises, workers and accounts may
    # refer to by now, and the upgrade skips rows that exist, so upgrading again is safe.
    pass
